import API
import FoundationEssentials
import Glibc
import Links
import Model
import Synchronization

/// Container processes and their network namespaces. A container's namespace is a bind
/// mount under the state directory, so it outlives the process and the agent; the process
/// runs under a small supervisor that records its exit code.
struct Runtime {
    let configuration: AgentConfiguration
    /// The processes found alive, held by pidfds (see LiveProcesses).
    let processes = LiveProcesses()

    func files(_ containerID: String) -> ContainerFiles {
        ContainerFiles(directory: configuration.containerDirectory(containerID))
    }

    // MARK: Namespaces

    func namespaceExists(_ path: String) -> Bool { NetworkNamespace.isMounted(at: path) }

    func createNamespace(_ path: String) throws {
        if NetworkNamespace.isMounted(at: path) { return }
        try? FileManager.default.removeItem(atPath: path)  // a stale file after a reboot
        try NetworkNamespace.create(at: path)
    }

    func deleteNamespace(_ path: String) { try? NetworkNamespace.delete(at: path) }

    /// Namespaces of containers that no record mentions any more.
    func removeOrphanNamespaces(keeping ids: Set<String>) -> [String] {
        let directory = configuration.stateDirectory + "/netns"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { !ids.contains($0) }.map { name in
            deleteNamespace(directory + "/" + name)
            return "removed the orphaned network namespace \(name)"
        }
    }

    // MARK: Processes

    /// Starts the container's command in `namespace` (nil: the host's), with the hosts,
    /// resolv.conf and hostname files of `nameFiles` (another container's, when it shares
    /// that one's namespace).
    func start(
        _ container: Container, namespace: String?, nameFiles: ContainerFiles, attach: ProcessAttachment? = nil
    ) throws -> ProcessState {
        let files = files(container.id)
        files.clearExit()
        try files.writeHostname(container.hostname)
        let hostMode = namespace == nil
        if let sysctls = container.sysctls, let namespace { try NetworkNamespace.setSysctls(sysctls, in: namespace) }
        var options = SpawnOptions(
            namespace: namespace, hostname: hostMode ? nil : container.hostname,
            hostsFile: nameFiles.hosts, resolvConfFile: nameFiles.resolvConf,
            hostnameFile: hostMode ? nil : nameFiles.hostname,
            logFile: files.log, exitFile: files.exitCode, arguments: container.command)
        options.domainname = hostMode ? nil : container.names?.domainname
        options.attachPID = attach?.pid ?? 0
        options.attachStdin = attach?.stdin ?? false
        let confinement = container.confinement ?? Confinement()
        options.privileged = confinement.privileged
        options.capabilities = confinement.capabilities
        options.hiddenPaths =
            [
                configuration.socketPath, configuration.stateDirectory, configuration.bpfRoot,
            ] + [configuration.dockerPluginSocket].compactMap { $0 }
        let pid: Int32
        do {
            pid = try Sandbox.spawn(options)
        } catch let error as LinkError where error.isNotFound {
            throw AgentError.commandNotFound(container.command[0])
        } catch let error as LinkError where error.isNotExecutable {
            throw AgentError.commandNotExecutable(container.command[0])
        }
        var state = ProcessState()
        state.pid = pid
        state.startTicks = Sandbox.startTime(pid: pid) ?? 0
        state.startedAt = Date()
        return state
    }

    func status(_ container: Container) -> ContainerStatus {
        let process = container.process
        if process.pid == 0 { return .created }
        return isAlive(process) ? .running : .exited
    }

    /// SIGTERM, then SIGKILL after `timeout` seconds; returns once the supervisor has
    /// recorded the exit (or after a few more seconds, if it can't).
    func stop(_ container: Container, timeout: Int) async {
        let process = container.process
        guard status(container) == .running else { return }
        if timeout > 0 {
            kill(process.pid, SIGTERM)
            if await waitForExit(container, seconds: Double(timeout)) { return }
        }
        kill(process.pid, SIGKILL)
        _ = await waitForExit(container, seconds: 5)
    }

    private func waitForExit(_ container: Container, seconds: Double) async -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if files(container.id).recordedExit() != nil || !isAlive(container.process) { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return false
    }

    private func isAlive(_ process: ProcessState) -> Bool { processes.isAlive(process) }
}

/// Whether containers' processes still run, asked every second (ExitWatch) and on every
/// scrape. A process is first found in /proc (its start time tells it from a reused PID),
/// then held by a pidfd: asking again is one poll() instead of a read of /proc/PID/stat,
/// which at 10,000 containers took the agent about 100 ms each time.
final class LiveProcesses: Sendable {
    private struct Key: Hashable {
        var pid: Int32
        var startTicks: UInt64
    }

    private let held = Mutex<[Key: Int32]>([:])

    deinit { held.withLock { for fd in $0.values { close(fd) } } }

    func isAlive(_ process: ProcessState) -> Bool {
        guard process.pid > 0 else { return false }
        let key = Key(pid: process.pid, startTicks: process.startTicks)
        // Polled under the lock, which keep(only:) closes pidfds under too. nil: not held.
        let known: Bool? = held.withLock { held in
            guard let fd = held[key] else { return nil }
            var poll = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = Glibc.poll(&poll, 1, 0) == 1
            if ready && poll.revents & Int16(POLLIN) == 0 {
                // An error on the pidfd says nothing of the process: /proc is asked instead.
                close(fd)
                held[key] = nil
                return nil
            }
            guard ready else { return true }
            close(fd)  // readable: it has exited
            held[key] = nil
            return false
        }
        if let known { return known }
        guard Sandbox.startTime(pid: process.pid) == process.startTicks else { return false }
        // Without a pidfd, it is alive by /proc, and is asked that way next time too.
        guard let fd = Sandbox.pidfd(pid: process.pid) else { return true }
        // The PID may have been reused between the two: the pidfd is kept only for our process.
        // And /proc still shows a process that has exited until it is reaped (a zombie), which
        // its pidfd already tells: the answer is the pidfd's, as it will be next time.
        var poll = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard Sandbox.startTime(pid: process.pid) == process.startTicks, Glibc.poll(&poll, 1, 0) == 0 else {
            close(fd)
            return false
        }
        let previous = held.withLock { $0.updateValue(fd, forKey: key) }
        if let previous { close(previous) }
        return true
    }

    /// Lets go of the processes not in `processes` (containers removed since).
    func keep(only processes: [ProcessState]) {
        let wanted = Set(processes.map { Key(pid: $0.pid, startTicks: $0.startTicks) })
        let gone = held.withLock { held in
            let gone = held.filter { !wanted.contains($0.key) }
            for key in gone.keys { held[key] = nil }
            return Array(gone.values)
        }
        for fd in gone { close(fd) }
    }
}
