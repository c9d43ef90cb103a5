//! Steps for features/browser_close.feature (being written).
