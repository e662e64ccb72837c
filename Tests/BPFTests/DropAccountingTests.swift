import BPF
import CBPF
import XCTest

/// The check DataplaneFixture makes of every program run: a drop verdict counted exactly one
/// drop under a reason, any other verdict none. Here on counters made up, so that the check
/// itself is known to fail where it must (the programs' tests show it passes on theirs).
final class DropAccountingTests: XCTestCase {
    typealias T = NATAndPolicyTests

    let icc = bp_drop_key(ifindex: 7, reason: BP_DROP_ICC, direction: BP_DIR_EGRESS)
    let ctFull = bp_drop_key(ifindex: 9, reason: BP_DROP_CT_FULL, direction: BP_DIR_INGRESS)

    func error(_ verdict: Int32, _ before: [bp_drop_key: UInt64], _ after: [bp_drop_key: UInt64]) -> String? {
        DataplaneFixture.dropAccountingError(verdict: verdict, before: before, after: after)
    }

    func testADropThatCountedOneReasonPasses() {
        XCTAssertNil(error(T.shot, [:], [icc: 1]))
        XCTAssertNil(error(T.shot, [icc: 4, ctFull: 2], [icc: 4, ctFull: 3]))
    }

    func testAPassThatCountedNothingPasses() {
        for verdict in [T.next, T.redirect] {
            XCTAssertNil(error(verdict, [:], [:]))
            XCTAssertNil(error(verdict, [icc: 3], [icc: 3]))
        }
    }

    func testADropThatCountedNothingFails() throws {
        let message = try XCTUnwrap(error(T.shot, [icc: 1], [icc: 1]))
        XCTAssertTrue(message.contains("no drop"), message)
    }

    func testADropCountedTwiceFails() {
        XCTAssertNotNil(error(T.shot, [:], [icc: 2]), "one key counted twice")
        XCTAssertNotNil(error(T.shot, [:], [icc: 1, ctFull: 1]), "two reasons for one drop")
    }

    func testADropWithoutAReasonOrDirectionFails() {
        let unspecified = bp_drop_key(ifindex: 7, reason: BP_DROP_UNSPEC, direction: BP_DIR_EGRESS)
        let unknown = bp_drop_key(
            ifindex: 7, reason: UInt8(__BP_DROP_MAX.rawValue), direction: UInt8(BP_DIR_EGRESS.rawValue), pad: 0)
        let noDirection = bp_drop_key(ifindex: 7, reason: BP_DROP_ICC, direction: BP_DIR_UNSPEC)
        for key in [unspecified, unknown, noDirection] {
            XCTAssertNotNil(error(T.shot, [:], [key: 1]), "reason \(key.reason), direction \(key.direction)")
        }
    }

    func testAPassThatCountedADropFails() throws {
        for verdict in [T.next, T.redirect] {
            let message = try XCTUnwrap(error(verdict, [icc: 1], [icc: 2]))
            XCTAssertTrue(message.contains("icc/egress"), message)
        }
    }
}
