enum CeleriacPlaceholder {}
