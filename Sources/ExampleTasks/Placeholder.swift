enum ExampleTasksPlaceholder {}
