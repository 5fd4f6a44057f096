import Testing
@testable import Worker

/// `Launches`: what the idle consumer waits on between starting tasks and watching again.
@Suite struct LaunchesTests {
    @Test func waiting_returnsAtOnce_whenNoTaskWasStarted() async {
        await Launches().wait()
    }

    @Test func waiting_returns_onceEveryStartedTaskHasBegun() async {
        let launches = Launches()
        launches.expect()
        launches.expect()
        let waiter = Task { await launches.wait() }
        launches.begun()
        launches.begun()
        await waiter.value
    }

    @Test func waiting_returnsAtOnce_whenTheTasksBeganBeforeIt() async {
        let launches = Launches()
        launches.expect()
        launches.begun()
        await launches.wait()
    }
}
