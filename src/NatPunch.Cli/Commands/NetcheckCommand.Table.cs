using System.Globalization;
using System.Net;
using System.Text;
using NatPunch.Discovery;
using NatPunch.PortMapping;

namespace NatPunch.Cli.Commands;

internal static partial class NetcheckCommand
{
    /// <summary>The human-readable report: one row per finding, then what it means in plain words.</summary>
    internal static string FormatTable(HostAndPort server, NatReport report, PortMappingReport? portMapping = null)
    {
        var rows = new List<(string Name, string Value)>
        {
            ("Server", $"{server}{(server.Host == report.Server.Address.ToString() ? "" : $" ({report.Server})")}"
                       + (report.ServerSoftware is { } software ? $", {software}" : "")),
            ("RFC 5780 support", report.SupportsRfc5780 ? $"yes (other address {report.OtherAddress})" : report.UdpWorks ? "no (no OTHER-ADDRESS)" : "unknown"),
            ("Local address", report.LocalEndPoint?.ToString() ?? "unknown"),
            ("Public address", report.PublicEndPoints.Count switch
            {
                0 => "unknown",
                1 => report.PublicEndPoints[0].ToString(),
                _ => $"{string.Join(", ", report.PublicEndPoints)} (one per destination)",
            }),
            ("NAT", report.NatDetected switch
            {
                true => "yes",
                false => "none: the server saw this host's own address",
                null => "unknown",
            }),
            ("Mapping", WithReason(report.Mapping.DisplayName(), report.MappingReason)),
            ("Filtering", WithReason(report.Filtering.DisplayName(), report.FilteringReason)),
            ("Hairpinning", WithReason(YesNo(report.Hairpinning), report.HairpinningReason)),
            ("UDP", WithReason(report.UdpWorks ? "yes" : "no", report.UdpReason)),
            ("TCP", WithReason(YesNo(report.TcpWorks, "not tested"), report.TcpReason)),
            ("Round-trip time", report.RoundTripTime is { } rtt
                ? $"{Milliseconds(rtt)} ms (median of {report.RoundTripSamples})"
                : "unknown"),
        };
        if (report.MappingLifetime is { } lifetime)
        {
            rows.Add(("Mapping lifetime", WithReason(Describe(lifetime), lifetime.Note)));
        }
        if (report.ServerError is { } serverError)
        {
            rows.Add(("Server error", serverError));
        }
        if (portMapping is not null)
        {
            rows.Add(("Port mapping", DescribePortMapping(portMapping)));
        }
        rows.Add(("NAT type", report.NatType.DisplayName()));

        int width = rows.Max(r => r.Name.Length) + 2;
        var text = new StringBuilder();
        foreach ((string name, string value) in rows)
        {
            text.Append("  ").Append(name.PadRight(width)).Append(value).Append('\n');
        }
        text.Append('\n');
        foreach (string advice in NatAdvice.For(report, portMapping))
        {
            text.Append(advice).Append('\n');
        }
        return text.ToString();
    }

    private static string Describe(MappingLifetimeEstimate lifetime) => (lifetime.AtLeast, lifetime.AtMost) switch
    {
        ({ } low, { } high) => $"between {Seconds(low)} and {Seconds(high)} s",
        ({ } low, null) => $"at least {Seconds(low)} s",
        (null, { } high) => $"less than {Seconds(high)} s",
        _ => "unknown",
    };

    /// <summary>"PCP, NAT-PMP, UPnP (gateway 10.7.0.1, external address 203.0.113.37)", or "none (gateway …: why, per protocol)".</summary>
    private static string DescribePortMapping(PortMappingReport report)
    {
        if (report.Gateway is null)
        {
            return "none (no IPv4 default gateway)";
        }
        string[] spoken = [.. report.Probes.Where(p => p.Speaks).Select(p => p.Protocol.DisplayName())];
        if (spoken.Length == 0)
        {
            return $"none (gateway {report.Gateway}: {string.Join("; ", report.Probes.Select(p => $"{p.Protocol.DisplayName()}: {p.Reason}"))})";
        }
        return $"{string.Join(", ", spoken)} (gateway {report.Gateway}"
            + (report.ExternalAddress is { } external ? $", external address {external}" : "") + ")";
    }

    private static string WithReason(string value, string? reason) => reason is null ? value : $"{value} ({reason})";

    private static string YesNo(bool? value, string unknown = "unknown") => value switch
    {
        true => "yes",
        false => "no",
        null => unknown,
    };

    private static string Seconds(TimeSpan time) => time.TotalSeconds.ToString("0.#", CultureInfo.InvariantCulture);

    private static string Milliseconds(TimeSpan time) => time.TotalMilliseconds.ToString("0.##", CultureInfo.InvariantCulture);
}
