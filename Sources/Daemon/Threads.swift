import Glibc

/// Runs body on a thread of its own, for loops that block in the kernel (netlink, the
/// event ring): pthreads, as FoundationEssentials has no Thread.
func startThread(_ body: @escaping @Sendable () -> Void) {
    final class Body: Sendable {
        let run: @Sendable () -> Void
        init(_ run: @escaping @Sendable () -> Void) { self.run = run }
    }
    let context = Unmanaged.passRetained(Body(body)).toOpaque()
    var thread = pthread_t()
    let failed = pthread_create(
        &thread, nil,
        { context in
            Unmanaged<Body>.fromOpaque(context!).takeRetainedValue().run()
            return nil
        }, context)
    precondition(failed == 0, "pthread_create: \(String(cString: strerror(failed)))")
    pthread_detach(thread)
}
