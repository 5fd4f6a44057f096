import Foundation
import Testing
@testable import Worker

/// The worker's slot counter: free slots are taken without waiting, a waiter is resumed by a release.
@Suite struct AsyncSemaphoreTests {
    @Test func freeSlots_areTakenAtOnce_andTryAcquireTakesNoMoreThanAreFree() async {
        let semaphore = AsyncSemaphore(3)
        await semaphore.acquire()
        #expect(semaphore.tryAcquire(upTo: 5) == 2)
        #expect(semaphore.tryAcquire(upTo: 1) == 0)
        semaphore.release(2)
        #expect(semaphore.tryAcquire(upTo: 5) == 2)
    }

    @Test func aWaiter_resumesOnRelease_andEachReleasedSlotWakesOneWaiter() async throws {
        let semaphore = AsyncSemaphore(0)
        let resumed = Protected(0)
        let waiters = (0..<3).map { _ in
            Task {
                await semaphore.acquire()
                resumed.withLock { $0 += 1 }
            }
        }
        // Wait (with a deadline) until all three are parked: no slot is free and none has resumed.
        let deadline = Date().addingTimeInterval(20)
        while semaphore.waitingCount < 3 && Date() < deadline { await Task.yield() }
        #expect(semaphore.waitingCount == 3)
        #expect(resumed.withLock { $0 } == 0)
        semaphore.release(2)
        while resumed.withLock({ $0 }) < 2 && Date() < deadline { await Task.yield() }
        #expect(resumed.withLock { $0 } == 2)
        #expect(semaphore.waitingCount == 1)
        semaphore.release(2)
        for waiter in waiters { await waiter.value }
        #expect(semaphore.tryAcquire(upTo: 5) == 1, "the slot no waiter needed stays free")
    }
}
