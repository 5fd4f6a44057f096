enum TaskProtocolPlaceholder {}
