//! Id newtypes for the ids that sit side by side in calls and are easy to swap: a member, a
//! unit, a benefit request. Stored as plain integers (diesel `Integer` on both backends), so
//! columns and queries take them directly; `.0` is the raw id where a page or URL needs it.

macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
            diesel::expression::AsExpression, diesel::deserialize::FromSqlRow,
        )]
        #[diesel(sql_type = diesel::sql_types::Integer)]
        pub struct $name(pub i32);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl<DB> diesel::serialize::ToSql<diesel::sql_types::Integer, DB> for $name
        where
            DB: diesel::backend::Backend,
            i32: diesel::serialize::ToSql<diesel::sql_types::Integer, DB>,
        {
            fn to_sql<'b>(
                &'b self,
                out: &mut diesel::serialize::Output<'b, '_, DB>,
            ) -> diesel::serialize::Result {
                <i32 as diesel::serialize::ToSql<diesel::sql_types::Integer, DB>>::to_sql(
                    &self.0, out,
                )
            }
        }

        impl<DB> diesel::deserialize::FromSql<diesel::sql_types::Integer, DB> for $name
        where
            DB: diesel::backend::Backend,
            i32: diesel::deserialize::FromSql<diesel::sql_types::Integer, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> diesel::deserialize::Result<Self> {
                <i32 as diesel::deserialize::FromSql<diesel::sql_types::Integer, DB>>::from_sql(
                    bytes,
                )
                .map($name)
            }
        }
    };
}

id_type!(
    /// A member (`members.id`).
    MemberId
);
id_type!(
    /// An org unit (`org_units.id`).
    UnitId
);
id_type!(
    /// A benefit request (`benefit_requests.id`).
    RequestId
);
