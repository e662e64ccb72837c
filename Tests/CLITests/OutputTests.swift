import Foundation
import Testing

@testable import bridgeport

/// What the CLI once asked of all of Foundation, now written out: JSON as `docker inspect`
/// prints it, ISO 8601 times and Docker's byte units.
@Suite struct OutputTests {
    let document: [String: Any] = ["b": [1, "x/y"], "a": ["c": true, "d": JSONNull()], "e": [String: Any](), "f": []]

    @Test func inspectJSONIsIndentedWithFourSpaces() {
        #expect(
            goJSON(document) == """
                {
                    "a": {
                        "c": true,
                        "d": null
                    },
                    "b": [
                        1,
                        "x/y"
                    ],
                    "e": {},
                    "f": []
                }
                """)
    }

    @Test func templateJSONIsOneLine() {
        #expect(goJSON(document, indent: nil) == #"{"a":{"c":true,"d":null},"b":[1,"x/y"],"e":{},"f":[]}"#)
    }

    @Test func iso8601HasMilliseconds() {
        #expect(iso8601(Date(timeIntervalSince1970: 1_714_644_672.345)) == "2024-05-02T10:11:12.345Z")
        #expect(iso8601(nil) == "0001-01-01T00:00:00Z")
    }

    @Test func humanBytesKeepsThreeDigits() {
        #expect(humanBytes(999) == "999B")
        #expect(humanBytes(1500) == "1.5kB")
        #expect(humanBytes(20_345_678) == "20.3MB")
        #expect(humanBytes(123_456_789_012) == "123GB")
    }
}
