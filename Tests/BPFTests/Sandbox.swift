import BPF
import Foundation
import Glibc
import XCTest

/// Test fixtures that touch nothing outside what they create: a bpffs mounted in a
/// fresh temp dir, network namespaces named bpt-<pid>-*, and threads that enter
/// them with setns(2). Everything is removed in teardown blocks, also on failure.
enum Sandbox {
    static let packageRoot: String = {
        // .../Tests/BPFTests/Sandbox.swift -> package root
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    static let endpointObject = packageRoot + "/build/bpf/endpoint.bpf.o"

    static func requireRoot() throws {
        if geteuid() != 0 { throw XCTSkip("needs root (CAP_BPF, CAP_NET_ADMIN, CAP_SYS_ADMIN)") }
    }

    /// Builds build/bpf/endpoint.bpf.o from bpf/ (only this object, so others' work in progress cannot break it).
    static func buildEndpointObject() throws {
        let (status, output) = run(["make", "-s", "-C", packageRoot, "build/bpf/endpoint.bpf.o"])
        if status != 0 { throw Failure("make build/bpf/endpoint.bpf.o failed:\n\(output)") }
    }

    /// A bpffs mounted on a new temp dir; unmounted and removed at teardown.
    static func bpffs(_ test: XCTestCase) throws -> String {
        var template = Array("/tmp/bridgeport-bpffs-XXXXXX".utf8CString)
        guard let dir = mkdtemp(&template) else { throw Failure("mkdtemp: \(String(cString: strerror(errno)))") }
        let path = String(cString: dir)
        test.addTeardownBlock {
            _ = try? BPFFilesystem.unmount(at: path)
            rmdir(path)
        }
        XCTAssertEqual(try BPFFilesystem.ensureMounted(at: path), .mounted)
        return path
    }

    nonisolated(unsafe) private static var netnsCounter = 0

    /// A new network namespace (lo up), deleted at teardown (with every link in it).
    static func netns(_ test: XCTestCase) throws -> String {
        netnsCounter += 1
        let name = "bpt-\(getpid())-\(netnsCounter)"
        try sh(["ip", "netns", "add", name])
        test.addTeardownBlock { _ = run(["ip", "netns", "del", name]) }
        try sh(["nsenter", "--net=/run/netns/\(name)", "ip", "link", "set", "lo", "up"])
        // No IPv6 chatter (DAD, router solicitations, MLD) that would move the counters.
        try sh([
            "nsenter", "--net=/run/netns/\(name)", "sysctl", "-qw",
            "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1",
        ])
        return name
    }

    /// Runs `body` on a new thread that has entered network namespace `name`
    /// (setns affects only that thread), waits for it and returns its result.
    static func inNetns<T>(_ name: String, _ body: @escaping () throws -> T) throws -> T {
        let fd = open("/run/netns/\(name)", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Failure("open /run/netns/\(name): \(String(cString: strerror(errno)))") }
        defer { close(fd) }

        var result: Result<T, Error> = .failure(Failure("thread did not run"))
        let job = Job {
            if setns(fd, 0x4000_0000 /* CLONE_NEWNET */) != 0 {
                result = .failure(Failure("setns \(name): \(String(cString: strerror(errno)))"))
                return
            }
            result = Result { try body() }
        }
        var thread = pthread_t()
        let ret = pthread_create(
            &thread, nil,
            { arg in
                Unmanaged<Job>.fromOpaque(arg!).takeRetainedValue().work()
                return nil
            }, Unmanaged.passRetained(job).toOpaque())
        guard ret == 0 else { throw Failure("pthread_create: \(ret)") }
        pthread_join(thread, nil)
        return try result.get()
    }

    /// setns(2), not exported by Swift's Glibc module.
    private static let setns: @convention(c) (Int32, Int32) -> Int32 = {
        guard let sym = dlsym(UnsafeMutableRawPointer(bitPattern: 0) /* RTLD_DEFAULT */, "setns") else {
            fatalError("setns not found in libc")
        }
        return unsafeBitCast(sym, to: (@convention(c) (Int32, Int32) -> Int32).self)
    }()

    @discardableResult
    static func run(_ args: [String]) -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = args
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        do { try p.run() } catch { return (-1, "\(error)") }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    @discardableResult
    static func sh(_ args: [String]) throws -> String {
        let (status, output) = run(args)
        if status != 0 { throw Failure("\(args.joined(separator: " ")) exited \(status): \(output)") }
        return output
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ d: String) { description = d }
    }
}

private final class Job {
    let work: () -> Void
    init(_ work: @escaping () -> Void) { self.work = work }
}

/// An Ethernet/IPv4/UDP frame with valid IPv4 checksum.
func udpFrame(payload: [UInt8] = Array("bridgeport test packet".utf8)) -> [UInt8] {
    let src: [UInt8] = [10, 99, 0, 2]
    let dst: [UInt8] = [10, 99, 0, 1]
    var eth: [UInt8] = [0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x02, 0x08, 0x00]
    let udpLen = 8 + payload.count
    let totalLen = 20 + udpLen
    var ip: [UInt8] = [0x45, 0, UInt8(totalLen >> 8), UInt8(totalLen & 0xff), 0, 1, 0x40, 0, 64, 17, 0, 0] + src + dst
    var sum: UInt32 = 0
    for i in stride(from: 0, to: 20, by: 2) { sum += UInt32(ip[i]) << 8 | UInt32(ip[i + 1]) }
    while sum > 0xffff { sum = (sum & 0xffff) + (sum >> 16) }
    let csum = ~UInt16(sum)
    ip[10] = UInt8(csum >> 8)
    ip[11] = UInt8(csum & 0xff)
    let udp: [UInt8] = [0x30, 0x39, 0x13, 0x88, UInt8(udpLen >> 8), UInt8(udpLen & 0xff), 0, 0]  // checksum 0 = none
    eth += ip + udp + payload
    return eth
}
