using System.Net;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using NatPunch.Discovery;
using NatPunch.PortMapping;

namespace NatPunch.Cli.Commands;

internal static partial class NetcheckCommand
{
    /// <summary>
    /// The report as one JSON object with stable snake_case keys; every key is always present
    /// (null when unknown). The keys are a contract, documented in docs/netcheck.md.
    /// </summary>
    /// <summary>Readable output: only what JSON requires is escaped (the output is not embedded in HTML).</summary>
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    internal static string FormatJson(HostAndPort server, NatReport report, string? failure, PortMappingReport? portMapping = null)
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream, WriterOptions))
        {
            json.WriteStartObject();
            json.WriteString("server", server.ToString());
            json.WriteString("server_address", report.Server.ToString());
            WriteEndPoint(json, "local_address", report.LocalEndPoint);
            WriteEndPoint(json, "public_address", report.PublicEndPoint);
            json.WriteStartArray("public_addresses");
            foreach (IPEndPoint endPoint in report.PublicEndPoints)
            {
                json.WriteStringValue(endPoint.ToString());
            }
            json.WriteEndArray();
            json.WriteBoolean("udp", report.UdpWorks);
            WriteString(json, "udp_reason", report.UdpReason);
            WriteBoolean(json, "tcp", report.TcpWorks);
            WriteString(json, "tcp_reason", report.TcpReason);
            WriteBoolean(json, "nat_detected", report.NatDetected);
            json.WriteString("nat_type", report.NatType.Token());
            json.WriteString("nat_type_name", report.NatType.DisplayName());
            json.WriteString("mapping", report.Mapping.Token());
            WriteString(json, "mapping_reason", report.MappingReason);
            json.WriteString("filtering", report.Filtering.Token());
            WriteString(json, "filtering_reason", report.FilteringReason);
            WriteBoolean(json, "hairpinning", report.Hairpinning);
            WriteString(json, "hairpinning_reason", report.HairpinningReason);
            json.WriteBoolean("rfc5780", report.SupportsRfc5780);
            WriteEndPoint(json, "other_address", report.OtherAddress);
            WriteString(json, "server_software", report.ServerSoftware);
            WriteString(json, "server_error", report.ServerError);
            if (report.RoundTripTime is { } rtt)
            {
                json.WriteNumber("rtt_ms", Math.Round(rtt.TotalMilliseconds, 3));
            }
            else
            {
                json.WriteNull("rtt_ms");
            }
            json.WriteNumber("rtt_samples", report.RoundTripSamples);
            if (report.MappingLifetime is { } lifetime)
            {
                json.WriteStartObject("mapping_lifetime");
                WriteSeconds(json, "at_least_s", lifetime.AtLeast);
                WriteSeconds(json, "at_most_s", lifetime.AtMost);
                WriteSeconds(json, "suggested_keepalive_s", lifetime.SuggestedKeepAlive);
                json.WriteNumber("probes", lifetime.Probes);
                json.WriteNumber("rounds", lifetime.Rounds);
                WriteString(json, "note", lifetime.Note);
                json.WriteEndObject();
            }
            else
            {
                json.WriteNull("mapping_lifetime");
            }
            WritePortMapping(json, portMapping);
            json.WriteStartArray("advice");
            foreach (string advice in NatAdvice.For(report, portMapping))
            {
                json.WriteStringValue(advice);
            }
            json.WriteEndArray();
            json.WriteNumber("elapsed_ms", (long)report.Elapsed.TotalMilliseconds);
            json.WriteNumber("malformed_datagrams", report.MalformedDatagrams);
            WriteString(json, "error", failure);
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray());
    }

    /// <summary>The object printed when the check could not even start (the name did not resolve).</summary>
    internal static string FormatJsonError(HostAndPort server, string failure)
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream, WriterOptions))
        {
            json.WriteStartObject();
            json.WriteString("server", server.ToString());
            json.WriteNull("server_address");
            json.WriteBoolean("udp", false);
            json.WriteNull("tcp");
            json.WriteString("nat_type", NatType.Unreachable.Token());
            json.WriteString("nat_type_name", NatType.Unreachable.DisplayName());
            json.WriteString("error", failure);
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray());
    }

    /// <summary>"port_mapping": the gateway, and per protocol whether it answered (and why not); null when not probed.</summary>
    private static void WritePortMapping(Utf8JsonWriter json, PortMappingReport? report)
    {
        if (report is null)
        {
            json.WriteNull("port_mapping");
            return;
        }
        json.WriteStartObject("port_mapping");
        WriteString(json, "gateway", report.Gateway?.ToString());
        foreach (PortMappingProtocol protocol in Enum.GetValues<PortMappingProtocol>())
        {
            GatewayProbe probe = report.For(protocol);
            string key = protocol.ToWire().Replace('-', '_');
            json.WriteBoolean(key, probe.Speaks);
            WriteString(json, key + "_reason", probe.Reason);
        }
        WriteString(json, "external_address", report.ExternalAddress?.ToString());
        json.WriteEndObject();
    }

    private static void WriteEndPoint(Utf8JsonWriter json, string name, IPEndPoint? endPoint) => WriteString(json, name, endPoint?.ToString());

    private static void WriteString(Utf8JsonWriter json, string name, string? value)
    {
        if (value is null)
        {
            json.WriteNull(name);
        }
        else
        {
            json.WriteString(name, value);
        }
    }

    private static void WriteBoolean(Utf8JsonWriter json, string name, bool? value)
    {
        if (value is { } flag)
        {
            json.WriteBoolean(name, flag);
        }
        else
        {
            json.WriteNull(name);
        }
    }

    private static void WriteSeconds(Utf8JsonWriter json, string name, TimeSpan? value)
    {
        if (value is { } time)
        {
            json.WriteNumber(name, Math.Round(time.TotalSeconds, 1));
        }
        else
        {
            json.WriteNull(name);
        }
    }
}
