//! The one place the shared code meets sqlx's generic API.
//!
//! sqlx states what a driver can do as bounds (`String: Encode<'q, DB>`, `&mut Connection:
//! Executor`, ...), and Rust does not carry such bounds from a trait to its users: every generic
//! impl that runs a query would have to restate them. Here they are written once, on the blanket
//! impl of [`Driver`]; [`crate::Engine::Db`] is a `Driver`, so the rest of the crate runs queries
//! through it with no bounds of its own. Every parameter is an [`Arg`] and every row is read
//! through [`Columns`], the same reader the engines' own bulk readers implement.

use crate::rows::Columns;
use async_trait::async_trait;
use sqlx::database::HasStatementCache;
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Pool, Row, Type};
use tessera_core::ids::{ClientId, SecretId, TenantId, UserId};
use tessera_core::store::StoreError;
use time::OffsetDateTime;

/// A statement parameter: the three types the schema uses. A NULL keeps its type, because
/// PostgreSQL infers a parameter's type from what is bound. No `Debug`: arguments carry digests
/// and sealed keys.
pub enum Arg {
    /// `TEXT` (ids, names, enums as their text).
    Text(Option<String>),
    /// `INTEGER`/`BIGINT` (times, counters, flags).
    Int(Option<i64>),
    /// `BLOB`/`BYTEA` (digests, sealed keys).
    Blob(Vec<u8>),
}

/// How each Rust value is bound: ids as their text, times as epoch seconds (audit times, which
/// need microseconds, bind their epoch microseconds instead).
macro_rules! arg_from {
    ($($t:ty => |$v:ident| $arg:expr),* $(,)?) => {$(
        impl From<$t> for Arg {
            fn from($v: $t) -> Self {
                $arg
            }
        }
    )*};
}

arg_from! {
    &str => |v| Arg::Text(Some(v.to_owned())),
    &String => |v| Arg::Text(Some(v.clone())),
    &Option<String> => |v| Arg::Text(v.clone()),
    i64 => |v| Arg::Int(Some(v)),
    Option<i64> => |v| Arg::Int(v),
    &[u8] => |v| Arg::Blob(v.to_vec()),
    OffsetDateTime => |v| Arg::Int(Some(v.unix_timestamp())),
    TenantId => |v| Arg::Text(Some(v.to_string())),
    Option<TenantId> => |v| Arg::Text(v.map(|v| v.to_string())),
    ClientId => |v| Arg::Text(Some(v.to_string())),
    SecretId => |v| Arg::Text(Some(v.to_string())),
    UserId => |v| Arg::Text(Some(v.to_string())),
}

/// A statement's parameters, `$1` first: `args![id, name, seq]`.
macro_rules! args {
    ($($arg:expr),* $(,)?) => {
        ::std::vec![$($crate::driver::Arg::from($arg)),*]
    };
}

/// Where a statement runs: on the pool (a connection of its own) or inside a transaction.
pub enum On<'a, D: Database> {
    /// Any connection of the pool.
    Pool(&'a Pool<D>),
    /// The transaction's connection.
    Tx(&'a mut D::Connection),
}

impl<'a, D: Database> From<&'a Pool<D>> for On<'a, D> {
    fn from(p: &'a Pool<D>) -> Self {
        On::Pool(p)
    }
}

impl<'a, D: Database> From<&'a mut sqlx::Transaction<'static, D>> for On<'a, D> {
    fn from(tx: &'a mut sqlx::Transaction<'static, D>) -> Self {
        On::Tx(&mut **tx)
    }
}

/// Makes one value of a row's columns, read by position.
pub type RowMap<T> = fn(&dyn Columns) -> Result<T, StoreError>;

/// What the shared code needs of an sqlx driver: run a statement, read rows. Implemented for
/// every driver that can bind and read the schema's three types.
#[async_trait]
pub trait Driver: Database + HasStatementCache {
    /// Runs `sql` with `args`. `persistent: false` keeps a statement whose text varies out of
    /// the connection's statement cache.
    async fn run(
        on: On<'_, Self>,
        sql: &str,
        args: Vec<Arg>,
        persistent: bool,
    ) -> Result<Self::QueryResult, sqlx::Error>;

    /// Runs `sql` with `args` and reads the rows it returns with `map`: every row, or with
    /// `first` only the first (the rest are not fetched). Errors of the driver go through
    /// `fail`; a row `map` refuses fails the whole read.
    async fn rows<T: Send + Unpin>(
        on: On<'_, Self>,
        sql: &str,
        args: Vec<Arg>,
        first: bool,
        map: RowMap<T>,
        fail: fn(sqlx::Error) -> StoreError,
    ) -> Result<Vec<T>, StoreError>;
}

#[async_trait]
impl<D: Database + HasStatementCache> Driver for D
where
    for<'c> &'c mut D::Connection: Executor<'c, Database = D>,
    for<'q> D::Arguments<'q>: IntoArguments<'q, D>,
    usize: ColumnIndex<D::Row>,
    for<'q> Option<String>: Encode<'q, D> + Decode<'q, D> + Type<D>,
    for<'q> Option<i64>: Encode<'q, D> + Decode<'q, D> + Type<D>,
    for<'q> Vec<u8>: Encode<'q, D> + Decode<'q, D> + Type<D>,
    for<'q> String: Decode<'q, D> + Type<D>,
    for<'q> i64: Decode<'q, D> + Type<D>,
{
    async fn run(
        on: On<'_, Self>,
        sql: &str,
        args: Vec<Arg>,
        persistent: bool,
    ) -> Result<D::QueryResult, sqlx::Error> {
        let q = bind(sqlx::query(sql), args).persistent(persistent);
        match on {
            On::Pool(p) => q.execute(p).await,
            On::Tx(c) => q.execute(c).await,
        }
    }

    async fn rows<T: Send + Unpin>(
        on: On<'_, Self>,
        sql: &str,
        args: Vec<Arg>,
        first: bool,
        map: RowMap<T>,
        fail: fn(sqlx::Error) -> StoreError,
    ) -> Result<Vec<T>, StoreError> {
        // Each row is mapped as it arrives, not after all have: a million raw rows held at once
        // cost a node's first load on PostgreSQL about 100 MiB more at its peak.
        let q = bind(sqlx::query(sql), args).try_map(move |row: D::Row| {
            map(&SqlxRow(&row)).map_err(|e| sqlx::Error::Decode(Box::new(e)))
        });
        match on {
            On::Pool(p) if first => q.fetch_optional(p).await.map(Vec::from_iter),
            On::Tx(c) if first => q.fetch_optional(c).await.map(Vec::from_iter),
            On::Pool(p) => q.fetch_all(p).await,
            On::Tx(c) => q.fetch_all(c).await,
        }
        .map_err(|e| match e {
            // A row `map` refused: its own error, not the driver's.
            sqlx::Error::Decode(e) => match e.downcast::<StoreError>() {
                Ok(e) => *e,
                Err(e) => fail(sqlx::Error::Decode(e)),
            },
            e => fail(e),
        })
    }
}

type Query<'q, D> = sqlx::query::Query<'q, D, <D as Database>::Arguments<'q>>;

fn bind<'q, D: Database>(mut q: Query<'q, D>, args: Vec<Arg>) -> Query<'q, D>
where
    Option<String>: Encode<'q, D> + Type<D>,
    Option<i64>: Encode<'q, D> + Type<D>,
    Vec<u8>: Encode<'q, D> + Type<D>,
{
    for a in args {
        q = match a {
            Arg::Text(v) => q.bind(v),
            Arg::Int(v) => q.bind(v),
            Arg::Blob(v) => q.bind(v),
        };
    }
    q
}

/// An sqlx row read by position.
struct SqlxRow<'a, R>(&'a R);

impl<R: Row> SqlxRow<'_, R>
where
    usize: ColumnIndex<R>,
{
    fn get<'r, T: Decode<'r, R::Database> + Type<R::Database>>(
        &'r self,
        i: usize,
    ) -> Result<T, StoreError> {
        self.0
            .try_get(i)
            .map_err(|e| StoreError::Other(Box::new(e)))
    }
}

impl<R: Row> Columns for SqlxRow<'_, R>
where
    usize: ColumnIndex<R>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Option<String>: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Option<i64>: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Vec<u8>: Decode<'r, R::Database> + Type<R::Database>,
{
    fn text(&self, i: usize) -> Result<String, StoreError> {
        self.get(i)
    }
    fn opt_text(&self, i: usize) -> Result<Option<String>, StoreError> {
        self.get(i)
    }
    fn int(&self, i: usize) -> Result<i64, StoreError> {
        self.get(i)
    }
    fn opt_int(&self, i: usize) -> Result<Option<i64>, StoreError> {
        self.get(i)
    }
    fn blob(&self, i: usize) -> Result<Vec<u8>, StoreError> {
        self.get(i)
    }
}
