using System.Net;
using System.Net.Sockets;
using NatPunch.Server.Turn;

namespace NatPunch.Tests.Turn;

/// <summary>An <see cref="ITurnEnvironment"/> with no sockets: relays are records, sends are lists.</summary>
internal sealed class FakeTurnEnvironment : ITurnEnvironment
{
    public HashSet<int> TakenPorts { get; } = [];
    public List<(TurnClient Client, byte[] Message)> ToClients { get; } = [];
    public List<FakeRelay> Relays { get; } = [];
    public IPAddress RelayIPv4 { get; set; } = IPAddress.Parse("198.51.100.1");
    public IPAddress? RelayIPv6 { get; set; }

    public IPAddress? RelayAddressFor(TurnClient client, AddressFamily family) =>
        family == AddressFamily.InterNetwork ? RelayIPv4 : RelayIPv6;

    public IRelaySocket? TryBind(IPEndPoint endPoint)
    {
        if (!TakenPorts.Add(endPoint.Port))
        {
            return null;
        }
        var relay = new FakeRelay(endPoint, this);
        Relays.Add(relay);
        return relay;
    }

    public void SendToClient(TurnClient client, ReadOnlySpan<byte> message) => ToClients.Add((client, message.ToArray()));

    public byte[] TakeLast()
    {
        ToClients.ShouldNotBeEmpty();
        byte[] last = ToClients[^1].Message;
        ToClients.Clear();
        return last;
    }

    internal sealed class FakeRelay(IPEndPoint endPoint, FakeTurnEnvironment owner) : IRelaySocket
    {
        public IPEndPoint LocalEndPoint { get; } = endPoint;
        public List<(IPEndPoint Peer, byte[] Data)> Sent { get; } = [];
        public bool Disposed { get; private set; }
        public bool DontFragment { get; private set; }

        public void SendTo(IPEndPoint peer, ReadOnlySpan<byte> data) => Sent.Add((peer, data.ToArray()));

        public void SetDontFragment() => DontFragment = true;

        public void Dispose()
        {
            Disposed = true;
            owner.TakenPorts.Remove(LocalEndPoint.Port);
        }
    }
}
