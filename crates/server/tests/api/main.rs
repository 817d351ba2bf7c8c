//! API tests: through the router without a socket, plus one end-to-end test over a socket.

mod common;
mod errors;
mod matrix;
mod reference;
