//! The personal-data registry: every table and every column of the schema, classified by what
//! it holds about a person. `/me/data` (which rows are the member's and which columns go in),
//! the retention job (what is deleted, scrubbed or kept, and why) and the anonymity scans read
//! it; a test compares it with the live schema of both backends, so a new table or column
//! cannot be added without saying what it is.

mod registry;
pub mod retention;

pub use registry::{POSTGRES_ONLY, REGISTRY};

/// What a column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Col {
    /// Nothing about a person (ids, states, times, amounts, settings).
    Plain,
    /// The member the row belongs to.
    Owner,
    /// Another person the row names by id (actor, author, handler, approver, `*_by`).
    Link,
    /// A copy of the name of the person in the given link column (timeline labels).
    NameOf(&'static str),
    /// A name, employee number or phone number held as text.
    Contact,
    /// Free text a person wrote (bodies, titles, notes): a departed member's number and phone
    /// are removed everywhere, their name only from their own rows (another person's letter
    /// or article may name a namesake).
    Text,
    /// Text the portal composes with people's names (notification titles, audit details):
    /// the departed member's name, number and phone are removed everywhere.
    Generated,
    /// Bytes of a photo or an attached file: exported as files, not as CSV columns.
    File,
    /// Secrets, digests and pseudonymous keys: never exported, never shown.
    Secret,
    /// Search tokens derived from these columns (joined by a space): re-derived when a scrub
    /// changes them.
    Derived(&'static [&'static str]),
}

/// What the retention job does with a table when a member's data is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leave {
    /// The member's own rows go (the `mine` condition picks them); the rest is scrubbed.
    DeleteMine,
    /// The member's name, employee number and phone are replaced in its `Contact`, `Text` and
    /// `NameOf` columns (a `NameOf` label only where its link is the member).
    Scrub,
    /// Kept as it is, with the reason.
    Keep(&'static str),
    /// Rewritten by a function of its own before the scrub (the reason names it).
    Rewrite(&'static str),
}

/// Whether another person's reading of a row is audited and shown on the member's
/// `/me/privacy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reads {
    /// Audited under this action code and listed on `/me/privacy`.
    Audited(&'static str),
    /// Not audited, with the reason.
    NotAudited(&'static str),
}

/// One table.
#[derive(Debug)]
pub struct Table {
    pub name: &'static str,
    /// The SQL condition that picks the member's rows (`?` = the member's id, `%K` = their
    /// engagement key) for `/me/data`, or `None` with the reason in `Leave`/`Reads`.
    pub mine: Option<&'static str>,
    pub leave: Leave,
    pub reads: Reads,
    pub cols: &'static [(&'static str, Col)],
}

impl Table {
    /// Columns that go into the member's CSV: everything but secrets, bytes and tokens.
    pub fn exported(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.cols
            .iter()
            .filter(|(_, c)| !matches!(c, Col::Secret | Col::File | Col::Derived(_)))
            .map(|(n, _)| *n)
    }

    /// Columns that can hold a person's name, number or phone as text.
    pub fn scrubbed(&self) -> impl Iterator<Item = (&'static str, Col)> + '_ {
        self.cols
            .iter()
            .filter(|(_, c)| {
                matches!(
                    c,
                    Col::Contact | Col::Text | Col::Generated | Col::NameOf(_)
                )
            })
            .copied()
    }

    pub fn has_person(&self) -> bool {
        self.cols
            .iter()
            .any(|(_, c)| !matches!(c, Col::Plain | Col::Derived(_)))
    }
}

pub fn table(name: &str) -> Option<&'static Table> {
    REGISTRY.iter().find(|t| t.name == name)
}
