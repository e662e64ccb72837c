import ArgumentParser
import Testing

@testable import bridgeport

@Suite struct CommandTreeTests {
    /// A command without a commandName is named from String(describing: its type), which at
    /// every start costs a scan of each protocol conformance in the binary.
    @Test func everyCommandNamesItself() {
        func unnamed(_ command: any ParsableCommand.Type) -> [String] {
            let configuration = command.configuration
            return (configuration.commandName == nil ? ["\(command)"] : [])
                + configuration.subcommands.flatMap { unnamed($0) }
        }
        #expect(unnamed(Bridgeport.self) == [])
    }
}
