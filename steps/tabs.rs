//! Steps for features/tabs.feature (being written).
