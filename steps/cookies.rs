//! Steps for features/cookies.feature (being written).
