using System.Text.Json;

namespace NatPunch.IntegrationTests.Peer;

/// <summary>The JSON events a <c>natpunch ... --json</c> process wrote, one object a line; other lines are passed over.</summary>
internal static class JsonEvents
{
    public static List<JsonElement> In(string log) =>
        [.. log.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(line => line.StartsWith('{'))
            .Select(line => JsonDocument.Parse(line).RootElement)];
}
