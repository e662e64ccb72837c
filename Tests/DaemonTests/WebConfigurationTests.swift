import Testing

@testable import Daemon

/// `--web.config.file` as Prometheus users write it (exporter-toolkit's format), read
/// through libyaml: the two sections the agent uses, other keys ignored.
@Suite struct WebConfigurationTests {
    func refusal(_ yaml: String) -> String {
        do {
            _ = try WebConfiguration(yaml: yaml)
            return "accepted"
        } catch { return error.description }
    }

    @Test func blockStyle() throws {
        let web = try WebConfiguration(
            yaml: """
                # TLS and two users
                tls_server_config:
                  cert_file: /etc/bridgeport/cert.pem   # the chain
                  key_file: "/etc/bridgeport/key.pem"
                  client_auth_type: RequireAndVerifyClientCert
                http_server_config:
                  http2: false
                basic_auth_users:
                  prometheus: '$2y$10$abc'
                  other: "$2b$12$x: y"
                """)
        #expect(web.tlsServerConfig?.certFile == "/etc/bridgeport/cert.pem")
        #expect(web.tlsServerConfig?.keyFile == "/etc/bridgeport/key.pem")
        #expect(web.basicAuthUsers == ["prometheus": "$2y$10$abc", "other": "$2b$12$x: y"])
    }

    @Test func flowStyleAndAnchors() throws {
        let web = try WebConfiguration(
            yaml: """
                hashes: {a: &hash '$2y$10$abc'}
                basic_auth_users: {prometheus: *hash, "grafana": '$2y$10$def'}
                tls_server_config: {cert_file: c.pem, key_file: k.pem}
                """)
        #expect(web.basicAuthUsers == ["prometheus": "$2y$10$abc", "grafana": "$2y$10$def"])
        #expect(web.tlsServerConfig?.certFile == "c.pem")
    }

    @Test func emptyOrNullIsNothing() throws {
        for yaml in ["", "\n", "# only a comment\n", "---\n", "~", "{}", "tls_server_config:\nbasic_auth_users: null"] {
            let web = try WebConfiguration(yaml: yaml)
            #expect(web.tlsServerConfig == nil, "\(yaml)")
            #expect(web.basicAuthUsers == nil, "\(yaml)")
        }
    }

    @Test func refusalsSayWhereAndWhy() {
        #expect(refusal("basic_auth_users: [not, a, map]") == "line 1, column 19: basic_auth_users: expected a mapping")
        #expect(refusal("- a\n- b") == "line 1, column 1: the top level: expected a mapping")
        #expect(
            refusal("tls_server_config:\n  cert_file: c.pem")
                == "line 2, column 3: tls_server_config: key_file is missing")
        #expect(
            refusal("tls_server_config: {cert_file: [c.pem], key_file: k}")
                == "line 1, column 32: tls_server_config: cert_file: expected a string")
        #expect(
            refusal("basic_auth_users:\n  a: x\n  a: y") == "line 3, column 3: basic_auth_users: a given twice")
        #expect(refusal("basic_auth_users:\n  a: ~") == "line 2, column 6: basic_auth_users: a: expected a string")
        #expect(refusal("a: 1\n---\nb: 2") == "line 3, column 1: a second document")
        // libyaml's own account, with its context.
        #expect(
            refusal("tls_server_config:\n  cert_file: c\n key_file: k")
                == "line 3, column 2: did not find expected key (while parsing a block mapping at line 1, column 1)")
        #expect(
            refusal("a: 'open")
                == "line 1, column 9: found unexpected end of stream (while scanning a quoted scalar at line 1, column 4)"
        )
    }

    @Test func aliasCycleIsRefused() {
        #expect(refusal("a: &x [*x]").hasSuffix("nested too deeply"))
    }

    /// Aliases of aliases: 10 levels of 10 copies would expand to 10^10 nodes.
    @Test func aliasesThatExpandTooFarAreRefused() {
        var yaml = "l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n"
        for level in 1...9 {
            let copies = Array(repeating: "*l\(level - 1)", count: 10).joined(separator: ", ")
            yaml += "l\(level): &l\(level) [\(copies)]\n"
        }
        #expect(refusal(yaml).hasSuffix("more than \(YAMLNode.maxNodes) nodes with its aliases expanded"))
    }
}
