//! The core's errors. Front ends map them to responses, each in its own wire format, in one place.

use crate::keys::KeyError;
use crate::store::StoreError;

/// Why an administrative operation failed.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// The object does not exist (or belongs to a tombstone).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The input is malformed or violates a rule; the message says which.
    #[error("{0}")]
    Invalid(String),
    /// The object's state forbids the change.
    #[error("{0}")]
    Conflict(String),
    /// At most `limit` unexpired secrets per application.
    #[error(
        "the application already has {limit} unexpired secrets, the limit; delete one before creating another"
    )]
    SecretLimit {
        /// The limit.
        limit: usize,
    },
    /// A key could not be generated or opened.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// A person's email and password do not match an account that may sign in. One answer for
    /// every reason, so that the console does not tell which accounts exist.
    #[error("the email or password is wrong")]
    SignIn,
    /// Too much work is waiting (password hashing); try again shortly.
    #[error("the server is busy; try again shortly")]
    Busy,
    /// The system random generator failed.
    #[error("the system random number generator failed")]
    Random,
    /// The store failed.
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for CoreError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => CoreError::NotFound("object"),
            StoreError::Conflict(m) => CoreError::Conflict(m),
            other => CoreError::Store(other),
        }
    }
}

/// Why a client could not be authenticated. Dialects differ in what they reveal: RFC 6749 says
/// `invalid_client` for all of these; Basiq distinguishes disabled (403) from deleted (404).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    /// No application has this client_id (or it is not a client_id at all).
    UnknownClient,
    /// The application was deleted.
    ClientDeleted,
    /// The secret does not match any of the application's secrets.
    BadSecret,
    /// The secret matched, but it has expired.
    SecretExpired,
    /// The application is disabled.
    ClientDisabled,
    /// The application's tenant is disabled.
    TenantDisabled,
    /// The application's tenant is deleted.
    TenantDeleted,
}

impl AuthFailure {
    /// A stable snake_case name, for audit records.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthFailure::UnknownClient => "unknown_client",
            AuthFailure::ClientDeleted => "client_deleted",
            AuthFailure::BadSecret => "bad_secret",
            AuthFailure::SecretExpired => "secret_expired",
            AuthFailure::ClientDisabled => "client_disabled",
            AuthFailure::TenantDisabled => "tenant_disabled",
            AuthFailure::TenantDeleted => "tenant_deleted",
        }
    }
}

/// Why no token was issued. Variants follow RFC 6749 §5.2.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// §5.2 `invalid_client`: "Client authentication failed (e.g., unknown client, no client
    /// authentication included, or unsupported authentication method)."
    #[error("client authentication failed")]
    InvalidClient(AuthFailure),
    /// §5.2 `unauthorized_client`: "The authenticated client is not authorized to use this
    /// authorization grant type." Here: its role is not in the catalog.
    #[error("the client is not authorized to use this grant type")]
    UnauthorizedClient,
    /// §5.2 `invalid_scope`: "The requested scope is invalid, unknown, malformed, or exceeds the
    /// scope granted by the resource owner."
    #[error("the requested scope is not granted to this client: {0}")]
    InvalidScope(String),
    /// The token was to act for a tenant that is not a direct, active child of the client's
    /// tenant.
    #[error("tenant {0} is not an active child tenant of the client's tenant")]
    BindingRefused(crate::ids::TenantId),
    /// Too many failed attempts from this caller, or too many tokens for this application:
    /// try again after the duration (HTTP 429 with `Retry-After`, in each dialect's shape).
    #[error("too many requests; retry after {} s", .0.as_secs())]
    Throttled(std::time::Duration),
    /// No key can sign tokens of the requested algorithm.
    #[error("no signing key is available")]
    NoSigningKey,
    /// Signing failed.
    #[error("internal error")]
    Internal(#[source] KeyError),
}
