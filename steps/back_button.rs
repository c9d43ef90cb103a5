//! Steps for features/back_button.feature (being written).
