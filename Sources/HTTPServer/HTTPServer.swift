// HTTPServer: work in progress.
enum HTTPServerPlaceholder {}
