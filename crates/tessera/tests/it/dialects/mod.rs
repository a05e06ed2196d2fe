//! One module per provider dialect: each replays its document's requests exactly as shown and
//! checks every response field and documented error; `cross` checks one secret on every dialect.

mod banked;
mod basiq;
mod basys;
mod cross;
mod ipospays;
mod paysecurez;
