//! The state every request shares: the pool, the configuration (with its clock) and the
//! password hasher. It imports no feature; each feature's own runtime state (view counter,
//! event buffer, forecast cache, rate limiters) is registered beside it in `app.rs` and taken
//! by the handlers that need it as `web::Data<ThatType>`.

use crate::auth::password::Hasher;
use crate::config::Config;
use crate::db::Pool;

pub struct AppState {
    pub pool: Pool,
    pub config: Config,
    pub hasher: Hasher,
    /// Unit labels shown on every page, cached by this instance.
    pub labels: crate::org::labels::UnitLabels,
    /// Set when the instance is stopping: /readyz answers 503 so a load balancer moves on.
    pub stopping: std::sync::atomic::AtomicBool,
    /// Counters for `/metrics` (kept only when a metrics token is set).
    pub metrics: std::sync::Arc<crate::metrics::Registry>,
}
