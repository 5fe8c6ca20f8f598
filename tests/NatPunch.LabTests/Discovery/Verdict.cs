using System.Text.Json;

namespace NatPunch.LabTests.Discovery;

/// <summary>
/// A NAT's behaviour in the words of lab/verify.sh, so that netcheck and coturn's
/// turnutils_natdiscovery can be compared: mapping <c>none</c> (no NAT), <c>EIM</c>, <c>ADM</c>,
/// <c>APDM</c>; filtering <c>EIF</c>, <c>ADF</c>, <c>APDF</c>; <c>blocked</c> (no UDP answer at all);
/// <c>?</c> (the tool could not tell).
/// </summary>
/// <param name="PublicAddress">The address the server saw (IP:PORT), if any.</param>
public sealed record Verdict(string Mapping, string Filtering, string? PublicAddress)
{
    public override string ToString() => $"{Mapping}/{Filtering}";

    /// <summary>
    /// Reads the output of <c>turnutils_natdiscovery -m -f</c>. It exits 0 whatever it finds, so its
    /// words are all there is: a verdict line per section, "STUN receive timeout.." when nothing answered.
    /// </summary>
    public static Verdict FromNatdiscovery(string output)
    {
        const string mappingHeader = "Mapping Behavior Discovery";
        const string filteringHeader = "Filtering Behavior Discovery";
        int m = output.IndexOf(mappingHeader, StringComparison.Ordinal);
        int f = output.IndexOf(filteringHeader, StringComparison.Ordinal);
        string mappingSection = m < 0 ? "" : output[m..(f > m ? f : output.Length)];
        string filteringSection = f < 0 ? "" : output[f..];

        string mapping = mappingSection switch
        {
            _ when mappingSection.Contains("No NAT!", StringComparison.Ordinal) => "none",
            _ when mappingSection.Contains("Address and Port Dependent Mapping", StringComparison.Ordinal) => "APDM",
            _ when mappingSection.Contains("Address Dependent Mapping", StringComparison.Ordinal) => "ADM",
            _ when mappingSection.Contains("Endpoint Independent Mapping", StringComparison.Ordinal) => "EIM",
            _ when mappingSection.Contains("receive timeout", StringComparison.Ordinal) => "blocked",
            _ => "?",
        };
        string filtering = filteringSection switch
        {
            _ when filteringSection.Contains("Address and Port Dependent Filtering", StringComparison.Ordinal) => "APDF",
            _ when filteringSection.Contains("Address Dependent Filtering", StringComparison.Ordinal) => "ADF",
            _ when filteringSection.Contains("Endpoint Independent Filtering", StringComparison.Ordinal) => "EIF",
            _ when filteringSection.Contains("receive timeout", StringComparison.Ordinal) => "blocked",
            _ => "?",
        };
        const string reflexive = "UDP reflexive addr:";
        string? address = mappingSection.Split('\n')
            .Where(line => line.Contains(reflexive, StringComparison.Ordinal))
            .Select(line => line[(line.IndexOf(reflexive, StringComparison.Ordinal) + reflexive.Length)..].Trim())
            .FirstOrDefault();
        return new Verdict(mapping, filtering, address);
    }

    /// <summary>Reads <c>natpunch netcheck --json</c> (keys: docs/netcheck.md).</summary>
    public static Verdict FromNetcheck(JsonElement report)
    {
        bool udp = report.GetProperty("udp").GetBoolean();
        bool? natDetected = report.GetProperty("nat_detected").ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => null,
        };
        string mapping = !udp ? "blocked"
            : natDetected == false ? "none"
            : Abbreviate(report.GetProperty("mapping").GetString(), "M");
        string filtering = !udp ? "blocked" : Abbreviate(report.GetProperty("filtering").GetString(), "F");
        return new Verdict(mapping, filtering, report.GetProperty("public_address").GetString());
    }

    private static string Abbreviate(string? behaviour, string suffix) => behaviour switch
    {
        "endpoint_independent" => "EI" + suffix,
        "address_dependent" => "AD" + suffix,
        "address_and_port_dependent" => "APD" + suffix,
        _ => "?",
    };
}
