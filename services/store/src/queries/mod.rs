//! Every SQL statement of switchyard, by table. Functions take any executor so they work
//! on the pool and inside transactions alike.

pub mod books;
pub mod channels;
pub mod history;
pub mod imports;
pub mod kv;
pub mod meta;
pub mod nodes;
pub mod peers;
