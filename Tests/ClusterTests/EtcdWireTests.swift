import Foundation
import Testing

@testable import Cluster

// Answers below are as etcd 3.4.23's gateway writes them (captured from a real etcd), trimmed of cluster_id etc.

private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }
private func b64(_ text: String) -> String { Data(text.utf8).base64EncodedString() }

@Suite struct PrefixRangeEndTests {
    @Test func raisesTheLastByte() {
        #expect(prefixRangeEnd(bytes("/bridgeport/networks/")) == bytes("/bridgeport/networks0"))
        #expect(prefixRangeEnd(bytes("a")) == bytes("b"))
    }

    @Test func dropsTrailing0xffBeforeRaising() {
        #expect(prefixRangeEnd([0x61, 0xff]) == [0x62])
        #expect(prefixRangeEnd([0x61, 0xfe, 0xff, 0xff]) == [0x61, 0xff])
    }

    @Test func allOf0xffOrEmptyMeansEveryKeyFromThere() {
        #expect(prefixRangeEnd([0xff, 0xff]) == [0])
        #expect(prefixRangeEnd([]) == [0])
    }
}

@Suite struct AnswerDecodingTests {
    @Test func rangeAnswerWithInt64AsStrings() throws {
        let answer = """
            {"header":{"revision":"9","raft_term":"2"},"kvs":[\
            {"key":"\(b64("/a/x"))","create_revision":"2","mod_revision":"7","version":"3","value":"\(b64("hello"))"},\
            {"key":"\(b64("/a/leased"))","create_revision":"5","mod_revision":"5","version":"1","value":"dg==","lease":"7668682551312594964"},\
            {"key":"\(b64("/a/empty"))","create_revision":"4","mod_revision":"4","version":"1"}],"count":"3"}
            """
        let (values, revision) = try EtcdWire.range(Data(answer.utf8))
        #expect(revision == 9)
        #expect(
            values == [
                EtcdKeyValue(key: "/a/x", value: Data("hello".utf8), modRevision: 7, createRevision: 2),
                EtcdKeyValue(
                    key: "/a/leased", value: Data("v".utf8), modRevision: 5, createRevision: 5,
                    lease: 7_668_682_551_312_594_964),
                // An empty value is left out of the JSON.
                EtcdKeyValue(key: "/a/empty", value: Data(), modRevision: 4, createRevision: 4),
            ])
    }

    @Test func rangeAnswerWithNoKeys() throws {
        let (values, revision) = try EtcdWire.range(Data(#"{"header":{"revision":"2"}}"#.utf8))
        #expect(values.isEmpty)
        #expect(revision == 2)
    }

    @Test func rangeAnswerThatIsNotEtcdIsABadAnswer() {
        #expect(throws: EtcdError.self) { try EtcdWire.range(Data(#"{"kvs":[{"key":"not base64!"}]}"#.utf8)) }
        #expect(throws: EtcdError.self) { try EtcdWire.range(Data("<html>".utf8)) }
    }

    @Test func txnAnswerWithAndWithoutSucceeded() throws {
        let won =
            #"{"header":{"revision":"3"},"succeeded":true,"responses":[{"response_put":{"header":{"revision":"3"}}}]}"#
        #expect(try EtcdWire.txnSucceeded(Data(won.utf8)) == true)
        // false is the default value, so the gateway leaves it out.
        #expect(try EtcdWire.txnSucceeded(Data(#"{"header":{"revision":"2"}}"#.utf8)) == false)
    }

    /// Both families' keys of an overlay endpoint are taken together or not at all.
    @Test func createOfSeveralKeysComparesAndPutsEach() throws {
        let request = WireTxnRequest.create(
            [(WireBytes("/a/10.0.0.2"), WireBytes("v")), (WireBytes("/b/fd00::2"), WireBytes("v"))],
            lease: WireInt64(7))
        let json = try #require(
            JSONSerialization.jsonObject(with: EtcdWire.encode(request)) as? [String: [[String: Any]]])
        let compares = try #require(json["compare"])
        #expect(compares.map { $0["key"] as? String } == [b64("/a/10.0.0.2"), b64("/b/fd00::2")])
        #expect(compares.allSatisfy { $0["target"] as? String == "CREATE" && $0["create_revision"] as? String == "0" })
        let puts = try #require(json["success"]).compactMap { $0["request_put"] as? [String: String] }
        #expect(puts.map { $0["key"] } == [b64("/a/10.0.0.2"), b64("/b/fd00::2")])
        #expect(puts.allSatisfy { $0["lease"] == "7" && $0["value"] == b64("v") })
    }

    /// A release deletes a key only if nobody wrote it since it was read.
    @Test func deleteComparesTheModRevision() throws {
        let request = WireTxnRequest.delete(key: WireBytes("/a/10.0.0.2"), ifModRevision: 42)
        let json = try #require(
            JSONSerialization.jsonObject(with: EtcdWire.encode(request)) as? [String: [[String: Any]]])
        let compare = try #require(json["compare"]?.first)
        #expect(compare["target"] as? String == "MOD" && compare["result"] as? String == "EQUAL")
        #expect(compare["mod_revision"] as? String == "42" && compare["create_revision"] == nil)
        let delete = try #require(json["success"]?.first?["request_delete_range"] as? [String: String])
        #expect(delete["key"] == b64("/a/10.0.0.2") && delete["range_end"] == nil)
        #expect(json["success"]?.first?["request_put"] == nil)
    }

    @Test func leaseGrant() throws {
        let answer = #"{"header":{"revision":"4"},"ID":"7668682551312594960","TTL":"5"}"#
        #expect(try EtcdWire.leaseGranted(Data(answer.utf8)) == 7_668_682_551_312_594_960)
    }

    @Test func keepAliveOfALiveAndOfAGoneLease() throws {
        let live = #"{"result":{"header":{"revision":"5"},"ID":"7668682551312594964","TTL":"5"}}"# + "\n"
        #expect(try EtcdWire.keepAliveTTL(Data(live.utf8), lease: 7_668_682_551_312_594_964) == 5)
        // A revoked or expired lease: TTL (0) is left out.
        let gone = #"{"result":{"header":{"revision":"6"},"ID":"7668682551312594964"}}"# + "\n"
        #expect(throws: EtcdError.leaseExpired(7_668_682_551_312_594_964)) {
            try EtcdWire.keepAliveTTL(Data(gone.utf8), lease: 7_668_682_551_312_594_964)
        }
    }

    @Test func errorBody() {
        let body =
            #"{"error":"etcdserver: requested lease not found","message":"etcdserver: requested lease not found","code":5}"#
        #expect(
            EtcdWire.statusError(httpStatus: 404, body: Data(body.utf8), path: "/v3/lease/revoke")
                == .status(code: 5, message: "etcdserver: requested lease not found"))
        // Not etcd's JSON (a plain-text 404 of a server without the /v3 paths).
        let other = EtcdWire.statusError(httpStatus: 404, body: Data("Not Found".utf8), path: "/v3/kv/range")
        #expect(other == .badAnswer("HTTP 404 for /v3/kv/range: \"Not Found\""))
    }
}

@Suite struct WatchDecodingTests {
    @Test func createdLine() throws {
        let line = #"{"result":{"header":{"revision":"7","raft_term":"2"},"created":true}}"#
        #expect(try EtcdWire.watchMessage(bytes(line)) == .created)
    }

    @Test func putWithoutTypeAndDelete() throws {
        let line = """
            {"result":{"header":{"revision":"9"},"events":[\
            {"kv":{"key":"\(b64("/a/w"))","create_revision":"8","mod_revision":"8","version":"1","value":"\(b64("ww"))"}},\
            {"type":"DELETE","kv":{"key":"\(b64("/a/w"))","mod_revision":"9"}}]}}
            """
        #expect(
            try EtcdWire.watchMessage(bytes(line))
                == .events([
                    .put(EtcdKeyValue(key: "/a/w", value: Data("ww".utf8), modRevision: 8, createRevision: 8)),
                    .delete(key: "/a/w", modRevision: 9),
                ]))
    }

    @Test func compactionEndsTheWatch() {
        // As etcd sends it: canceled, a compact_revision, and a header without revision.
        let line = #"{"result":{"header":{"raft_term":"2"},"canceled":true,"compact_revision":"8"}}"#
        #expect(throws: EtcdError.compacted(revision: 8)) { try EtcdWire.watchMessage(bytes(line)) }
    }

    @Test func cancellationEndsTheWatch() {
        let line = #"{"result":{"header":{"revision":"3"},"canceled":true,"cancel_reason":"permission denied"}}"#
        #expect(throws: EtcdError.watchCanceled(reason: "permission denied")) { try EtcdWire.watchMessage(bytes(line)) }
    }

    @Test func streamErrorEndsTheWatch() {
        let line =
            #"{"error":{"grpc_code":14,"http_code":503,"message":"etcdserver: no leader","http_status":"Service Unavailable"}}"#
        #expect(throws: EtcdError.status(code: 14, message: "etcdserver: no leader")) {
            try EtcdWire.watchMessage(bytes(line))
        }
    }

    @Test func emptyResultIsProgress() throws {
        #expect(try EtcdWire.watchMessage(bytes(#"{"result":{"header":{"revision":"12"}}}"#)) == .progress)
    }
}

@Suite struct LineSplitterTests {
    @Test func linesAcrossChunks() throws {
        var splitter = LineSplitter()
        #expect(try splitter.append(bytes("{\"a\":")) == [])
        #expect(try splitter.append(bytes("1}\n{\"b\"")) == [bytes("{\"a\":1}")])
        #expect(try splitter.append(bytes(":2}\n{\"c\":3}\n\n{\"d\"")) == [bytes("{\"b\":2}"), bytes("{\"c\":3}")])
        #expect(try splitter.append(bytes(":4}\r\n")) == [bytes("{\"d\":4}")])
        #expect(splitter.finish() == nil)
    }

    @Test func lastLineWithoutNewline() throws {
        var splitter = LineSplitter()
        #expect(try splitter.append(bytes("{\"error\":\"x\"}")) == [])
        #expect(splitter.finish() == bytes("{\"error\":\"x\"}"))
        #expect(splitter.finish() == nil)
    }

    @Test func oneByteAtATime() throws {
        var splitter = LineSplitter()
        var lines: [[UInt8]] = []
        for byte in bytes("one\ntwo\nthree\n") { lines += try splitter.append([byte]) }
        #expect(lines == [bytes("one"), bytes("two"), bytes("three")])
    }

    @Test func runawayLineIsRefused() {
        var splitter = LineSplitter()
        splitter.limit = 8
        #expect(throws: EtcdError.self) { try splitter.append(bytes("0123456789")) }
    }
}

@Suite struct EndpointTests {
    @Test func clusterStoreForm() throws {
        let endpoint = try EtcdEndpoint(parsing: "etcd://10.0.0.5:2379")
        #expect(endpoint.scheme == "http" && endpoint.host == "10.0.0.5" && endpoint.port == 2379)
        #expect(endpoint.url == "http://10.0.0.5:2379")
    }

    @Test func httpForms() throws {
        #expect(try EtcdEndpoint(parsing: "http://etcd.local:12379/").url == "http://etcd.local:12379")
        #expect(try EtcdEndpoint(parsing: "HTTPS://etcd-1.example").url == "https://etcd-1.example:2379")
        #expect(try EtcdEndpoint(parsing: "etcd://[fd00::5]:2379").url == "http://[fd00::5]:2379")
    }

    @Test(arguments: [
        ("10.0.0.5:2379", "no scheme"),
        ("tcp://10.0.0.5:2379", "unsupported scheme \"tcp\""),
        ("etcd://", "no host"),
        ("etcd://:2379", "no host"),
        ("etcd://10.0.0.5:port", "\"port\" is not a port number"),
        ("etcd://10.0.0.5:70000", "\"70000\" is not a port number"),
        ("etcd://fd00::5:2379", "put an IPv6 address in brackets, as in etcd://[fd00::1]:2379"),
        ("http://10.0.0.5:2379/v3", "a path, query or user name is not supported"),
        ("etcd://bad host", "\"bad host\" is not a host name or address"),
        ("etcd://[fd00::5", "unclosed \"[\""),
    ])
    func garbageIsRefusedWithAReason(text: String, reason: String) {
        #expect(throws: EtcdError.invalidEndpoint(text, reason: reason)) { try EtcdEndpoint(parsing: text) }
    }

    @Test func messageSaysWhatIsExpected() {
        let error = EtcdError.invalidEndpoint("10.0.0.5", reason: "no scheme")
        #expect(
            error.description
                == "invalid etcd endpoint \"10.0.0.5\": no scheme (expected etcd://HOST:PORT or http://HOST:PORT)")
    }
}
