using System.Net;
using NatPunch.Security;
using NatPunch.Session;
using NatPunch.Tests.Traversal;
using NatPunch.Tests.VirtualNetwork;
using NatPunch.Traversal;

namespace NatPunch.Tests.Session;

/// <summary>
/// Garbage into every input of the session core of a working, relayed session in the virtual network:
/// datagrams that look like STUN, TURN, handshake frames or sealed frames, messages "from the relay
/// server", and (as if they had opened) control messages of every type. Nothing throws, the session
/// keeps its path, and sealed data still crosses it.
/// </summary>
public class SessionCoreBadInputTests
{
    private static readonly IceAgentOptions Ice = IceAgentOptions.Default with { ConsentTimeout = TimeSpan.FromSeconds(15) };
    private static readonly byte[] FirstBytes = [0x00, 0x01, 0x01, 0x11, 0x40, 0x7F, SealedFrame.Marker, HandshakeFrame.Marker, 0xFF];

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void GarbageIntoEveryInputOfTheCoreIsDroppedAndTheSessionGoesOn(int seed)
    {
        var scenario = new IntroductionScenario(seed, NatBehavior.Symmetric, NatBehavior.PortRestrictedCone, options: Ice);
        scenario.AddRelay();
        scenario.ListenAndConnect(TimeSpan.FromSeconds(20)).BothSelected.ShouldBeTrue(scenario.Diagnostics());
        Simulator simulator = scenario.Simulator;
        simulator.RunFor(TimeSpan.FromSeconds(2));
        var random = new Random(seed);
        var stranger = new IPEndPoint(IPAddress.Parse("198.18.9.9"), 4444);

        for (int round = 0; round < 300; round++)
        {
            foreach (SimulatedPeer peer in new[] { scenario.Listener, scenario.Connector })
            {
                byte[] garbage = Garbage(random);
                TimeSpan now = simulator.Now;
                switch (round % 4)
                {
                    case 0:
                        peer.HandleDatagram(garbage, random.Next(2) == 0 ? stranger : scenario.Turn!.EndPoint, now);
                        break;
                    case 1:
                        peer.Session.HandleFromRelayServer(peer.Session.Relay.Current.ShouldNotBeNull(), garbage, now);
                        break;
                    case 2:
                        peer.Session.HandleHandshakeFrame(garbage, now);
                        break;
                    case 3:
                        var type = (SessionMessageType)random.Next(0, 8);
                        peer.Session.HandleControl(type, garbage.AsSpan(0, Math.Min(garbage.Length, random.Next(0, 12))), new SessionPath(stranger, null), now);
                        break;
                }
                peer.Socket.Poll();
            }
            simulator.RunFor(TimeSpan.FromMilliseconds(20));
        }
        simulator.RunFor(TimeSpan.FromSeconds(20)); // past a consent timeout: the path must still be answered

        foreach (SimulatedPeer peer in new[] { scenario.Listener, scenario.Connector })
        {
            peer.PathEvents.ShouldHaveSingleItem($"{peer.Name}: the path changed or was lost\n{string.Join('\n', scenario.Log)}")
                .Event.ShouldBeOfType<PathEvent.Connected>();
            peer.Session.Relay.Current.ShouldNotBeNull();
        }
        byte[] data = [42, 43, 44];
        scenario.Listener.SendData(data);
        scenario.Connector.SendData(data);
        simulator.RunFor(TimeSpan.FromSeconds(1));
        scenario.Connector.DataReceived.ShouldContain(d => d.SequenceEqual(data));
        scenario.Listener.DataReceived.ShouldContain(d => d.SequenceEqual(data));
    }

    /// <summary>Random bytes behind a first byte that steers them to one of the parsers, sometimes with a plausible STUN cookie.</summary>
    private static byte[] Garbage(Random random)
    {
        byte[] bytes = new byte[random.Next(1, 200)];
        random.NextBytes(bytes);
        bytes[0] = FirstBytes[random.Next(FirstBytes.Length)];
        if (bytes.Length >= 8 && random.Next(2) == 0)
        {
            bytes[4] = 0x21; bytes[5] = 0x12; bytes[6] = 0xA4; bytes[7] = 0x42; // the magic cookie
            bytes[2] = 0;
            bytes[3] = (byte)((bytes.Length - 20) & 0xFC);
        }
        return bytes;
    }
}
