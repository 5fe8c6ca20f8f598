using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using NatPunch.PortMapping;

namespace NatPunch.Tests.PortMapping;

/// <summary>
/// A scripted gateway on loopback (PCP/NAT-PMP on one UDP port, SSDP on another, UPnP control over
/// HTTP) for what the lab's real one, miniupnpd, never does: speak NAT-PMP only, answer from another
/// address, report a private or zero external address, keep only permanent leases, hold the port
/// asked for, grant short leases. Every request it takes is recorded.
/// </summary>
internal sealed partial class StandInGateway : IAsyncDisposable
{
    private readonly Socket _control = Bind(IPAddress.Loopback);
    private readonly Socket _otherAddress = Bind(IPAddress.Parse("127.0.0.2"));
    private readonly Socket _ssdp = Bind(IPAddress.Loopback);
    private readonly TcpListener _http = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task[] _loops;

    public StandInGateway()
    {
        _http.Start();
        _loops = [ServeControlAsync(), ServeSsdpAsync(), ServeHttpAsync()];
    }

    public IPAddress ExternalAddress { get; set; } = IPAddress.Parse("203.0.113.5");
    public bool SpeaksPcp { get; set; } = true;
    public bool SpeaksNatPmp { get; set; } = true;
    public bool SpeaksUpnp { get; set; } = true;
    /// <summary>Answers PCP and NAT-PMP from 127.0.0.2 instead of the address asked.</summary>
    public bool AnswersFromAnotherAddress { get; set; }
    /// <summary>The lease granted (PCP, NAT-PMP); 0: what was asked.</summary>
    public uint GrantedLifetime { get; set; }
    /// <summary>UPnP: 725 OnlyPermanentLeasesSupported unless the lease asked is 0.</summary>
    public bool PermanentLeasesOnly { get; set; }
    /// <summary>UPnP: external ports held by another host (718 ConflictInMappingEntry).</summary>
    public HashSet<int> TakenPorts { get; } = [];

    /// <summary>What it was asked, in order: "pcp map lifetime=7200 nonce=…", "nat-pmp map …", "upnp AddPortMapping …".</summary>
    public ConcurrentQueue<string> Requests { get; } = new();

    public GatewayRoute Route => new(IPAddress.Loopback, IPAddress.Loopback)
    {
        Ports = new GatewayPorts(Port(_control), Port(_ssdp), SearchMulticast: false),
    };

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _control.Dispose();
        _otherAddress.Dispose();
        _ssdp.Dispose();
        _http.Stop();
        await Task.WhenAll(_loops).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _stop.Dispose();
    }

    private static Socket Bind(IPAddress address)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(address, 0));
        return socket;
    }

    private static int Port(Socket socket) => ((IPEndPoint)socket.LocalEndPoint!).Port;

    private async Task ServeControlAsync()
    {
        var buffer = new byte[1100];
        while (!_stop.IsCancellationRequested)
        {
            SocketReceiveFromResult received = await _control.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), _stop.Token);
            byte[]? answer = Answer(buffer.AsSpan(0, received.ReceivedBytes));
            if (answer is not null)
            {
                await (AnswersFromAnotherAddress ? _otherAddress : _control).SendToAsync(answer, SocketFlags.None, received.RemoteEndPoint, _stop.Token);
            }
        }
    }

    private byte[]? Answer(ReadOnlySpan<byte> request)
    {
        if (request.Length >= 2 && request[0] == 0 && SpeaksNatPmp)
        {
            return NatPmpAnswer(request);
        }
        if (request.Length >= 24 && request[0] == 2)
        {
            // A NAT-PMP-only gateway says "unsupported version" in NAT-PMP's own words (RFC 6887 §9).
            return SpeaksPcp ? PcpAnswer(request) : [0, (byte)(128 + request[1]), 0, 1, 0, 0, 0, 0];
        }
        return null;
    }

    private byte[] NatPmpAnswer(ReadOnlySpan<byte> request)
    {
        byte opcode = request[1];
        if (opcode == 0)
        {
            Requests.Enqueue("nat-pmp external");
            var answer = new byte[12];
            answer[1] = 128;
            ExternalAddress.TryWriteBytes(answer.AsSpan(8), out _);
            return answer;
        }
        ushort internalPort = BinaryPrimitives.ReadUInt16BigEndian(request[4..]);
        ushort suggested = BinaryPrimitives.ReadUInt16BigEndian(request[6..]);
        uint lifetime = BinaryPrimitives.ReadUInt32BigEndian(request[8..]);
        Requests.Enqueue($"nat-pmp map internal={internalPort} suggested={suggested} lifetime={lifetime}");
        var map = new byte[16];
        map[1] = (byte)(128 + opcode);
        BinaryPrimitives.WriteUInt16BigEndian(map.AsSpan(8), internalPort);
        BinaryPrimitives.WriteUInt16BigEndian(map.AsSpan(10), lifetime == 0 ? (ushort)0 : suggested);
        BinaryPrimitives.WriteUInt32BigEndian(map.AsSpan(12), lifetime == 0 ? 0 : GrantedLifetime == 0 ? lifetime : GrantedLifetime);
        return map;
    }

    private byte[] PcpAnswer(ReadOnlySpan<byte> request)
    {
        byte opcode = request[1];
        uint lifetime = BinaryPrimitives.ReadUInt32BigEndian(request[4..]);
        if (opcode == 0)
        {
            Requests.Enqueue("pcp announce");
            var announce = new byte[24];
            announce[0] = 2;
            announce[1] = 0x80;
            return announce;
        }
        ReadOnlySpan<byte> map = request[24..];
        Requests.Enqueue($"pcp map lifetime={lifetime} nonce={Convert.ToHexString(map[..12])} suggested={BinaryPrimitives.ReadUInt16BigEndian(map[18..])}");
        var answer = new byte[60];
        answer[0] = 2;
        answer[1] = 0x81;
        BinaryPrimitives.WriteUInt32BigEndian(answer.AsSpan(4), lifetime == 0 ? 0 : GrantedLifetime == 0 ? lifetime : GrantedLifetime);
        map[..20].CopyTo(answer.AsSpan(24));
        ExternalAddress.MapToIPv6().TryWriteBytes(answer.AsSpan(44), out _);
        return answer;
    }

    private async Task ServeSsdpAsync()
    {
        var buffer = new byte[2048];
        while (!_stop.IsCancellationRequested)
        {
            SocketReceiveFromResult received = await _ssdp.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), _stop.Token);
            if (!SpeaksUpnp)
            {
                continue;
            }
            int httpPort = ((IPEndPoint)_http.LocalEndpoint).Port;
            byte[] answer = Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\nLOCATION: http://127.0.0.1:{httpPort}/rootDesc.xml\r\n\r\n");
            await _ssdp.SendToAsync(answer, SocketFlags.None, received.RemoteEndPoint, _stop.Token);
        }
    }

    private async Task ServeHttpAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            using TcpClient client = await _http.AcceptTcpClientAsync(_stop.Token);
            await using NetworkStream stream = client.GetStream();
            string request = await ReadRequestAsync(stream);
            string body = request.StartsWith("GET /rootDesc.xml", StringComparison.Ordinal) ? Description : Control(request);
            byte[] content = Encoding.UTF8.GetBytes(body);
            byte[] head = Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: {content.Length}\r\nConnection: close\r\n\r\n");
            await stream.WriteAsync(head, _stop.Token);
            await stream.WriteAsync(content, _stop.Token);
        }
    }

    private async Task<string> ReadRequestAsync(NetworkStream stream)
    {
        var text = new StringBuilder();
        var buffer = new byte[4096];
        while (true)
        {
            int read = await stream.ReadAsync(buffer, _stop.Token);
            if (read == 0)
            {
                return text.ToString();
            }
            text.Append(Encoding.UTF8.GetString(buffer, 0, read));
            string so = text.ToString();
            int end = so.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            if (end >= 0)
            {
                Match length = ContentLength().Match(so);
                int want = length.Success ? int.Parse(length.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) : 0;
                if (Encoding.UTF8.GetByteCount(so[(end + 4)..]) >= want)
                {
                    return so;
                }
            }
        }
    }

    private string Control(string request)
    {
        string action = SoapAction().Match(request).Groups[1].Value;
        string Argument(string name) => Regex.Match(request, $"<{name}>([^<]*)</{name}>").Groups[1].Value;
        switch (action)
        {
            case "GetExternalIPAddress":
                Requests.Enqueue("upnp GetExternalIPAddress");
                return Response(action, $"<NewExternalIPAddress>{ExternalAddress}</NewExternalIPAddress>");
            case "AddPortMapping":
                Requests.Enqueue($"upnp AddPortMapping external={Argument("NewExternalPort")} lease={Argument("NewLeaseDuration")}");
                if (PermanentLeasesOnly && Argument("NewLeaseDuration") != "0")
                {
                    return Fault(725, "OnlyPermanentLeasesSupported");
                }
                return TakenPorts.Contains(int.Parse(Argument("NewExternalPort"), System.Globalization.CultureInfo.InvariantCulture))
                    ? Fault(718, "ConflictInMappingEntry")
                    : Response(action, "");
            case "DeletePortMapping":
                Requests.Enqueue($"upnp DeletePortMapping external={Argument("NewExternalPort")}");
                return Response(action, "");
            default:
                return Fault(401, "Invalid Action");
        }
    }

    private static string Response(string action, string arguments) =>
        $"<?xml version=\"1.0\"?><s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body>"
        + $"<u:{action}Response xmlns:u=\"urn:schemas-upnp-org:service:WANIPConnection:1\">{arguments}</u:{action}Response></s:Body></s:Envelope>";

    private static string Fault(int code, string description) =>
        "<?xml version=\"1.0\"?><s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body><s:Fault><faultcode>s:Client</faultcode>"
        + $"<faultstring>UPnPError</faultstring><detail><UPnPError xmlns=\"urn:schemas-upnp-org:control-1-0\"><errorCode>{code}</errorCode>"
        + $"<errorDescription>{description}</errorDescription></UPnPError></detail></s:Fault></s:Body></s:Envelope>";

    private const string Description = """
        <?xml version="1.0"?>
        <root xmlns="urn:schemas-upnp-org:device-1-0"><device><deviceType>urn:schemas-upnp-org:device:InternetGatewayDevice:1</deviceType>
        <deviceList><device><deviceList><device><serviceList><service>
        <serviceType>urn:schemas-upnp-org:service:WANIPConnection:1</serviceType><controlURL>/ctl/IPConn</controlURL>
        </service></serviceList></device></deviceList></device></deviceList></device></root>
        """;

    [GeneratedRegex(@"Content-Length:\s*(\d+)", RegexOptions.IgnoreCase)]
    private static partial Regex ContentLength();

    [GeneratedRegex("SOAPAction:\\s*\"[^#]*#([A-Za-z]+)\"", RegexOptions.IgnoreCase)]
    private static partial Regex SoapAction();
}
