// TaskAPI: work in progress.
enum TaskAPIPlaceholder {}
