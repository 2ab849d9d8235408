//! Market data providers against local HTTP servers replaying real-format payloads.
