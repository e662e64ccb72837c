import API
import Foundation
import Model
import PropertyBased
import Testing

@testable import bridgeport

/// `--format` as Docker's CLI reads it: table, table TEMPLATE, json and TEMPLATE, over the
/// listings' records; Go's error words for a template that names what a row lacks.
@Suite struct FormatTests {
    static let listing = NetworkCommand.Ls.listing

    static func record(
        _ id: String, _ name: String, _ driver: String, labels: [String: String] = [:]
    ) -> Template.Record {
        Template.Record(
            fields: [
                "ID": id, "Name": name, "Driver": driver, "Scope": "local", "IPv4": "true", "IPv6": "false",
                "Internal": "false", "Labels": labelList(labels), "CreatedAt": "2024-05-02 10:11:12 +0000 UTC",
            ],
            methods: ["Label": { labels[$0] ?? "" }])
    }

    static let rows = [
        record("0123456789ab", "bridge", "bridge"),
        record("ba9876543210", "a-much-longer-name", "macvlan", labels: ["tier": "web"]),
    ]

    func render(_ format: String?, quiet: Bool = false, _ listing: Listing = Self.listing) throws -> String {
        try listing.render(Self.rows, format: format, quiet: quiet)
    }

    @Test func tableIsTheDefaultColumns() throws {
        let expected = """
            NETWORK ID     NAME                 DRIVER    SCOPE
            0123456789ab   bridge               bridge    local
            ba9876543210   a-much-longer-name   macvlan   local

            """
        #expect(try render(nil) == expected)
        #expect(try render("table") == expected)
        #expect(try render("") == expected)
    }

    @Test func tableTemplateHasAHeaderFromTheFieldsTitles() throws {
        #expect(
            try render(#"table {{.ID}}\t{{.Name}}"#) == """
                NETWORK ID     NAME
                0123456789ab   bridge
                ba9876543210   a-much-longer-name

                """)
        #expect(
            try render("table {{.Name}}: {{.IPv6}}\t{{.Internal}}\t{{.CreatedAt}}") == """
                NAME: IPV6                  INTERNAL   CREATED AT
                bridge: false               false      2024-05-02 10:11:12 +0000 UTC
                a-much-longer-name: false   false      2024-05-02 10:11:12 +0000 UTC

                """)
        // Docker's header stops where a title can't stand for the template (a method).
        let lines = try render(#"table {{.Name}}\t{{.Label "tier"}}"#).split(separator: "\n")
        #expect(
            lines.map { $0.trimmingCharacters(in: .whitespaces) } == ["NAME", "bridge", "a-much-longer-name   web"])
    }

    @Test func aPlainTemplateIsALinePerRow() throws {
        #expect(try render("{{.Name}}") == "bridge\na-much-longer-name\n")
        #expect(try render(#"{{.Name}}={{.Label "tier"}}"#) == "bridge=\na-much-longer-name=web\n")
        #expect(try render(#"{{.Name}}\n"#) == "bridge\n\na-much-longer-name\n\n")
        #expect(try render("{{ .Name -}}   !") == "bridge!\na-much-longer-name!\n")
        #expect(try Self.listing.render([], format: "{{.Name}}", quiet: false) == "")
        #expect(try Self.listing.render([], format: "table {{.Name}}", quiet: false) == "NAME\n")
    }

    @Test func jsonIsEveryFieldOfARow() throws {
        let lines = try render("json").split(separator: "\n")
        #expect(lines.count == 2)
        let decoded = try JSONDecoder().decode([String: String].self, from: Data(lines[1].utf8))
        #expect(decoded == Self.rows[1].fields)
        #expect(try render("{{json .Name}}") == "\"bridge\"\n\"a-much-longer-name\"\n")
    }

    @Test func quietIsTheIDsUnlessNetworkLsHasAFormat() throws {
        #expect(try render(nil, quiet: true) == "0123456789ab\nba9876543210\n")
        #expect(try render("{{.Name}}", quiet: true) == "bridge\na-much-longer-name\n", "network ls: the format wins")
        #expect(try render("{{.Name}}", quiet: true, Ps.listing) == "0123456789ab\nba9876543210\n", "ps: -q wins")
    }

    @Test func anUnknownFieldIsGosErrorBeforeAnyOutput() throws {
        func failure(_ format: String, _ listing: Listing = Self.listing) -> String? {
            do {
                _ = try listing.render([], format: format, quiet: false)
                return nil
            } catch let failure as Failure {
                #expect(failure.code == 1)
                return failure.message
            } catch {
                return "\(error)"
            }
        }
        #expect(
            failure("{{.Foo}}")
                == #"template parsing error: template: :1:2: executing "" at <.Foo>: can't evaluate field Foo"#)
        #expect(
            failure(#"table {{.ID}}\t{{.Name.Foo}}"#)
                == #"template parsing error: template: :1:10: executing "" at <.Name.Foo>: can't evaluate field Foo"#)
        #expect(
            failure("{{.Foo}}", Ps.listing)
                == #"failed to execute template: template: :1:2: executing "" at <.Foo>: can't evaluate field Foo"#)
        #expect(failure("{{upper .Name}}") == #"template parsing error: template: :1: function "upper" not defined"#)
        #expect(failure("{{range .Name}}") == "template parsing error: template: :1: unexpected EOF")
        #expect(failure("{{.Label}}")?.hasSuffix("wrong number of args for Label: want 1 got 0") == true)
    }

    @Test func psRowsAreDockers() throws {
        var container = Container(
            id: String(repeating: "c0ffee12", count: 8), name: "web", hostname: "web",
            command: ["sh", "-c", "sleep 1000 && echo done"], created: Date(), networkMode: "front")
        container.ports = [PortMapping(proto: .tcp, containerPort: 80, hostIP: IPv4Address(0, 0, 0, 0), hostPort: 8080)]
        let endpoint = Endpoint(
            containerID: container.id, networkID: "f00d", ip: nil, mac: nil, hostInterface: nil,
            containerInterface: nil,
            order: 0)
        let view = ContainerView(
            container: container, status: .running,
            endpoints: [
                EndpointView(
                    endpoint: endpoint, containerName: "web", networkName: "front", gateway: nil, prefixLength: nil)
            ])
        let row = Ps.record(view, trunc: true)
        #expect(row.fields["Command"] == #""sh -c 'sleep 1000 &…""#)
        #expect(row.fields["ID"]?.count == 12)
        #expect(row.fields["Ports"] == "0.0.0.0:8080->80/tcp")
        #expect(row.fields["Networks"] == "front")
        // A dual-stack container's: both families, IPv4 first, as Docker 27 shows them.
        var dual = view
        dual.container.ports.append(PortMapping(proto: .tcp, containerPort: 80, hostIP: .v6(.any), hostPort: 8080))
        #expect(Ps.record(dual, trunc: true).fields["Ports"] == "0.0.0.0:8080->80/tcp, [::]:8080->80/tcp")
        let ports = try #require(inspectDocument(dual)["NetworkSettings"] as? [String: Any])["Ports"]
        #expect(
            (ports as? [String: [[String: String]]])?["80/tcp"] == [
                ["HostIp": "0.0.0.0", "HostPort": "8080"], ["HostIp": "::", "HostPort": "8080"],
            ])
        #expect(row.fields["State"] == "running")
        #expect(Ps.record(view, trunc: false).fields["Command"] == #""sh -c 'sleep 1000 && echo done'""#)
        #expect(
            try Ps.listing.render([row], format: #"table {{.Names}}\t{{.Networks}}"#, quiet: false)
                == "NAMES     NETWORKS\nweb       front\n")
    }

    @Test func inspectDocumentsKeepGoMapRules() throws {
        let document: [String: Any] = ["Name": "x", "Nested": ["A": 1], "List": ["a", "b"]]
        #expect(try Template("{{.Missing}}").render(document) == "<no value>")
        #expect(try Template("{{.Nested.A}} {{range .List}}[{{.}}]{{end}}").render(document) == "1 [a][b]")
        #expect(try Template(#"{{index .Nested "A"}}"#).render(document) == "1")
        #expect(throws: TemplateError.self) { try Template("{{.Name.Foo}}").render(document) }
    }

    @Test func tabwriterAlignsBlocksAsGos() {
        // Go's example: b and c are distinct columns (the b column is not contiguous).
        #expect(
            tabwrite("aaaa\tbbb\td\naa\tb\tdd\na\t\naa\tcccc\teee")
                == "aaaa      bbb       d\naa        b         dd\na         \naa        cccc      eee")
        #expect(tabwrite("a-very-long-cell-here\tx\nb\ty") == "a-very-long-cell-here   x\nb                       y")
    }

    @Test func goTimeIsTimeString() throws {
        // In the local zone (the offset and its name are tzdata's; listing.sh checks zones by
        // TZ): seconds and their fraction are the same in every zone.
        let time = #/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:12(\.\d+)? [+-]\d{4} [A-Za-z0-9+-]+$/#
        let quarter = goTime(Date(timeIntervalSince1970: 1_714_644_672.25))
        #expect(try time.wholeMatch(in: quarter)?.output.1 == ".25", "\(quarter)")
        let micro = goTime(Date(timeIntervalSince1970: 1_714_644_672.000_001))
        #expect(try time.wholeMatch(in: micro)?.output.1 == ".000001", "\(micro)")
        let whole = goTime(Date(timeIntervalSince1970: 1_714_644_672.25), fractional: false)
        #expect(try time.wholeMatch(in: whole) != nil && !whole.contains("."), "\(whole)")
    }

    @Test func jsonStringIsJSONSerializations() throws {
        // Every ASCII character, and past it some that stay as they are.
        let texts =
            (0..<0x80).map { String(UnicodeScalar(UInt8($0))) } + ["é", "ünïcödé ✓", "a/b", "", "'sh -c' \"x\"\n"]
        for text in texts {
            let data = try JSONSerialization.data(
                withJSONObject: text, options: [.fragmentsAllowed, .withoutEscapingSlashes])
            #expect(jsonString(text) == String(decoding: data, as: UTF8.self), "\(text.unicodeScalars.map(\.value))")
        }
    }
}

/// Generated templates and rows: what a template says survives rendering; tables stay aligned;
/// no template string crashes the parser or the renderer.
@Suite struct FormatProperties {
    static let inputs = 2000
    static let fields = Array(NetworkCommand.Ls.listing.titles.keys).sorted()

    /// Text with no braces or backslashes: it renders as itself.
    static let plain = Gen<Character?>.element(of: Array("ab :,-|=xyz019 ")).compactMap { $0 }.string(of: 0...6)
    static let value = Gen<Character?>.element(of: Array("abc-_.:/019 é")).compactMap { $0 }.string(of: 0...14)
    static let field = Gen<Int>.value(in: 0..<fields.count).map { fields[$0] }

    @Test func templatesRenderTheirFieldsAndText() async {
        let parts = zip(Self.field, Self.plain).array(of: 1...6)
        let values = Self.value.array(of: Self.fields.count...Self.fields.count)
        await propertyCheck(count: Self.inputs, input: zip(parts, Self.plain, values)) { parts, lead, values in
            let row = Template.Record(fields: Dictionary(uniqueKeysWithValues: zip(Self.fields, values)))
            let source = lead + parts.map { "{{.\($0.0)}}\($0.1)" }.joined()
            let expected = lead + parts.map { row.fields[$0.0]! + $0.1 }.joined()
            do throws(TemplateError) {
                let template = try Template(source)
                #expect(try template.render(row) == expected, "\(source)")
                // The header of the same template: each field's title in its place.
                let titles = NetworkCommand.Ls.listing.titles
                #expect(template.renderHeader(titles) == lead + parts.map { titles[$0.0]! + $0.1 }.joined())
            } catch {
                Issue.record("\(source): \(error)")
            }
        }
    }

    @Test func tablesAlignEveryColumn() async {
        let columns = Gen<Int>.value(in: 1...4).map { Array(Self.fields.prefix($0)) }
        let rows = Self.value.array(of: Self.fields.count...Self.fields.count).array(of: 0...6)
        await propertyCheck(count: Self.inputs, input: columns, rows) { columns, rows in
            let records = rows.map { Template.Record(fields: Dictionary(uniqueKeysWithValues: zip(Self.fields, $0))) }
            let format = "table " + columns.map { "{{.\($0)}}" }.joined(separator: "\\t")
            let listing = NetworkCommand.Ls.listing
            let lines = try listing.render(records, format: format, quiet: false).split(
                separator: "\n", omittingEmptySubsequences: false)
            #expect(lines.count == records.count + 2 && lines.last == "")
            let table = [columns.map { listing.titles[$0]! }] + records.map { r in columns.map { r.fields[$0]! } }
            // Each column starts where the one before ends: the widest cell plus 3, at least 10.
            var start = 0
            for (index, _) in columns.enumerated() {
                let width = table.map { $0[index].unicodeScalars.count }.max()! + 3
                for (line, cells) in zip(lines, table) {
                    let scalars = Array(line.unicodeScalars)
                    let end = index == columns.count - 1 ? scalars.count : start + max(10, width)
                    let cell = String(String.UnicodeScalarView(scalars[start..<end]))
                    let expected = cells[index]
                    #expect(
                        index == columns.count - 1
                            ? cell == expected
                            : cell.hasPrefix(expected) && cell.dropFirst(expected.count).allSatisfy { $0 == " " },
                        "\(line): column \(index) is \"\(cell)\", not \"\(expected)\"")
                }
                start += max(10, width)
            }
        }
    }

    @Test func anyTemplateParsesOrFailsInGosWords() async {
        let text = Gen<Character?>.element(of: Array("{{}}..\" NameIDLabel-json range end index \\t$")).compactMap {
            $0
        }
        .string(of: 0...30)
        await propertyCheck(count: Self.inputs, input: text) { source in
            do throws(TemplateError) {
                _ = try Template(source).render(FormatTests.rows[1])
            } catch {
                #expect(error.description.hasPrefix("template: :"), "\(source): \(error)")
            }
        }
    }

    @Test func jsonRoundTripsEveryRow() async {
        let values = Self.value.array(of: Self.fields.count...Self.fields.count)
        await propertyCheck(count: Self.inputs, input: values) { values in
            let row = Template.Record(fields: Dictionary(uniqueKeysWithValues: zip(Self.fields, values)))
            let line = try NetworkCommand.Ls.listing.render([row], format: "json", quiet: false)
            #expect(try JSONDecoder().decode([String: String].self, from: Data(line.utf8)) == row.fields)
        }
    }
}

/// Go's boolean flag values (`--ipv4=false`, `--rm=true`), as Docker's CLI takes them.
@Suite struct GoBoolFlagRules {
    @Test func valuesOfBooleanFlagsAreRewritten() {
        #expect(
            GoBoolFlags.normalized(["network", "create", "--ipv4=false", "--ipv6=true", "--internal=0", "n"])
                == ["network", "create", "--no-ipv4", "--ipv6", "n"])
        #expect(GoBoolFlags.normalized(["--ipv4=TRUE", "--rm=t", "--detach=F"]) == ["--ipv4", "--rm"])
    }

    @Test func otherTokensAreLeftAlone() {
        let untouched = [
            "run", "--label=a=true", "--ipv6=maybe", "--name=false", "-d", "--", "sh", "--rm=false", "--ipv4=false",
        ]
        #expect(GoBoolFlags.normalized(untouched) == untouched)
    }

    /// `run` and `exec` end with a container's command, which stays as it is.
    @Test func aContainersCommandIsLeftAlone() {
        #expect(
            GoBoolFlags.normalized(["run", "--rm=true", "-d", "--name", "x", "-p", "80:80", "tool", "--force=false"])
                == ["run", "--rm", "-d", "--name", "x", "-p", "80:80", "tool", "--force=false"])
        #expect(
            GoBoolFlags.normalized(["run", "-dit", "--detach=true", "sh", "-c", "x --all=1"])
                == ["run", "-dit", "--detach", "sh", "-c", "x --all=1"])
        #expect(
            GoBoolFlags.normalized(["exec", "-i", "--privileged=1", "web", "tool", "--quiet=true"])
                == ["exec", "-i", "--privileged", "web", "tool", "--quiet=true"])
        #expect(GoBoolFlags.normalized(["ps", "-a", "--no-trunc=true"]) == ["ps", "-a", "--no-trunc"])
    }

    @Test func parsedAsDockerMeansThem() throws {
        let create = try NetworkCommand.Create.parse(GoBoolFlags.normalized(["--ipv4=false", "--ipv6=true", "six"]))
        #expect(!create.ipv4 && create.ipv6 && create.name == "six")
        let plain = try NetworkCommand.Create.parse(GoBoolFlags.normalized(["--ipv4", "four"]))
        #expect(plain.ipv4 && !plain.ipv6)
        #expect(try NetworkCommand.Create.parse(["x"]).ipv4)
    }
}
