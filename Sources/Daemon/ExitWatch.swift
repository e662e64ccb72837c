import ServiceLifecycle

/// Looks for containers whose command ended on its own, once a second, and has the agent
/// release their ports (their supervisor records the exit in a file; nothing tells the
/// agent, which may not have been running then).
struct ExitWatch: Service {
    let agent: Agent

    func run() async throws {
        while !Task.isShuttingDownGracefully {
            await agent.releaseExited()
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(1)) }
        }
    }
}
