//! Steps for features/devices.feature (being written).
