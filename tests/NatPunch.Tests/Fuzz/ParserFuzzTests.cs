using System.Buffers.Binary;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using NatPunch.Protocol.Rendezvous;
using NatPunch.Protocol.Stun;
using NatPunch.Protocol.Turn;
using NatPunch.Security;
using NatPunch.Server.Turn;
using NatPunch.Streams;
using NatPunch.Tests.Stun;
using NatPunch.Tests.Turn;
using NatPunch.Traversal;

namespace NatPunch.Tests.Fuzz;

/// <summary>
/// Every parser of bytes or text that come from the network, fuzzed (<see cref="FuzzRunner"/>): the
/// rendezvous framing and JSON, the TURN relay's request handling, TURN REST usernames and nonces,
/// candidates from the peer's offer, stream segments, sealed session frames, an HTTP proxy's answer to CONNECT. None may throw; where
/// a parser accepts, what it accepted must hold together (re-encodes the same, opens only as sent).
/// </summary>
public sealed class ParserFuzzTests(ITestOutputHelper output)
{
    private static readonly PeerOffer Offer = new("ufrag", "pwd", [new CandidateInfo("host", "192.0.2.1:5000", 2130706431, "1"),
        new CandidateInfo("srflx", "[2001:db8::1]:6000", 1694498815, "2", "10.0.0.2:6000")]);

    [Fact]
    public void GatewayAnswersToPortMappingRequests()
    {
        // What a gateway on the LAN (or anything answering from port 5351 or 1900) may send back.
        List<byte[]> valid =
        [
            Hex.Parse("00 80 0000 0000 0e10 cb007122"),
            Hex.Parse("00 81 0000 0000 0005 1388 d431 00001c20"),
            Hex.Parse("00 81 0002 0000 0005"),
            Hex.Parse("02 81 00 00 00001c20 0000002a 000000000000000000000000 0102030405060708090a0b0c 11 000000 1388 d431 00000000000000000000ffffcb007122"),
            Hex.Parse("02 80 00 00 00000000 0000002a 000000000000000000000000"),
            Hex.Parse("00 80 0001 00000e10"),
            "HTTP/1.1 200 OK\r\nST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\nLOCATION: http://10.7.0.1:5000/rootDesc.xml\r\n\r\n"u8.ToArray(),
            """<?xml version="1.0"?><root xmlns="urn:schemas-upnp-org:device-1-0"><URLBase>http://10.7.0.1:5000/</URLBase><device><serviceList><service><serviceType>urn:schemas-upnp-org:service:WANIPConnection:1</serviceType><controlURL>/ctl/IPConn</controlURL></service></serviceList></device></root>"""u8.ToArray(),
            """<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><u:AddAnyPortMappingResponse xmlns:u="urn:schemas-upnp-org:service:WANIPConnection:2"><NewReservedPort>40001</NewReservedPort></u:AddAnyPortMappingResponse></s:Body></s:Envelope>"""u8.ToArray(),
            """<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault><detail><UPnPError><errorCode>718</errorCode><errorDescription>ConflictInMappingEntry</errorDescription></UPnPError></detail></s:Fault></s:Body></s:Envelope>"""u8.ToArray(),
        ];
        var description = new Uri("http://10.7.0.1:5000/rootDesc.xml");
        output.WriteLine(FuzzRunner.Run("port-mapping", 9120, valid, input =>
        {
            foreach (byte opcode in new byte[] { 0, 1, 2 })
            {
                if (NatPunch.Protocol.PortMapping.NatPmpMessage.TryParseResponse(input, opcode, out var natPmp)
                    && natPmp.Result == NatPunch.Protocol.PortMapping.NatPmpResult.Success && opcode == 0)
                {
                    natPmp.ExternalAddress.ShouldNotBeNull();
                }
            }
            foreach (byte opcode in new byte[] { 0, 1 })
            {
                if (NatPunch.Protocol.PortMapping.PcpMessage.TryParseResponse(input, opcode, out var pcp) && opcode == 1
                    && pcp.Version == 2 && pcp.Result == NatPunch.Protocol.PortMapping.PcpResult.Success)
                {
                    pcp.Nonce!.Length.ShouldBe(12);
                    pcp.ExternalAddress.ShouldNotBeNull();
                }
            }
            if (NatPunch.Protocol.PortMapping.SsdpMessage.TryParseResponse(input, out Uri location, out _))
            {
                location.Scheme.ShouldBe(Uri.UriSchemeHttp);
            }
            string text = System.Text.Encoding.UTF8.GetString(input);
            if (NatPunch.Protocol.PortMapping.UpnpDeviceDescription.TryFindPortMappingService(text, description, out var service))
            {
                service.ControlUrl.Scheme.ShouldBe(Uri.UriSchemeHttp);
            }
            foreach (string action in new[] { "AddAnyPortMapping", "AddPortMapping" })
            {
                NatPunch.Protocol.PortMapping.UpnpSoap.TryParseResponse(text, action, out _, out _);
            }
        }));
    }

    [Fact]
    public void HttpProxyAnswersToConnect()
    {
        List<byte[]> valid =
        [
            "HTTP/1.1 200 Connection established\r\n\r\n"u8.ToArray(),
            "HTTP/1.0 200 OK\r\nVia: 1.1 proxy\r\n\r\n"u8.ToArray(),
            "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"office\"\r\nContent-Length: 0\r\n\r\n"u8.ToArray(),
            "HTTP/1.1 403 Forbidden\r\nServer: squid/5.7\r\nContent-Type: text/html\r\n\r\n<html></html>"u8.ToArray(),
            "HTTP/1.1 503 Service Unavailable\r\n\r\n"u8.ToArray(),
        ];
        output.WriteLine(FuzzRunner.Run("http-connect-answer", 9110, valid, input =>
        {
            int end = NatPunch.Net.HttpConnectAnswer.HeadEnd(input);
            ReadOnlySpan<byte> head = end >= 0 ? input.AsSpan(0, end) : input;
            if (NatPunch.Net.HttpConnectAnswer.TryParse(head, out int status, out string reason, out string statusLine))
            {
                status.ShouldBeInRange(100, 999);
                statusLine.ShouldStartWith("HTTP/");
                reason.Length.ShouldBeLessThanOrEqualTo(120);
            }
            statusLine.Length.ShouldBeLessThanOrEqualTo(120);
            foreach (char c in statusLine)
            {
                if (c is < ' ' or >= (char)0x7F)
                {
                    Assert.Fail($"unprintable character {(int)c} in '{statusLine}'"); // it goes into error messages as is
                }
            }
        }));
    }

    [Fact]
    public void RendezvousFramesAndMessages()
    {
        RendezvousMessage[] messages =
        [
            new RegisterMessage("alice", "token", Offer, "instance", "natpunch/1", new ResumeSession("s", "bob", "proof")),
            new RegisteredMessage("alice", "198.51.100.1:4000", new TurnGrant("1700000000:alice", "pw", 3600)),
            new GrantMessage(new TurnGrant("1700001800:alice", "pw2", 3600)),
            new UpdateOfferMessage(Offer), new ConnectMessage("bob", 1000, Offer),
            new IntroduceMessage("s", "bob", IceRole.Controlling, Offer, "198.51.100.2:5000", 150),
            new CandidateMessage("s", Offer.Candidates[1]), new RestartMessage("s", Offer, 2), new SealedSignalMessage("s", "Ym94"),
            new PeerGoneMessage("s", "bob", "left"), new PingMessage(7), new PongMessage(7), new ErrorMessage("bad_request", "no", "s", "bob"),
            new ResumeMessage("s", "bob", "p"), new ResumeKeyMessage("s", "anchor"),
        ];
        List<byte[]> valid = [.. messages.Select(RendezvousCodec.Encode)];

        output.WriteLine(FuzzRunner.Run("rendezvous", 2201, valid, input =>
        {
            // As framed bytes on a connection, and as a bare payload.
            if (RendezvousFrame.TryRead(input, out ReadOnlySpan<byte> payload, out int length) == RendezvousFrame.Status.Complete)
            {
                length.ShouldBe(RendezvousFrame.HeaderLength + payload.Length);
                CheckPayload(payload);
            }
            CheckPayload(input);
        }));

        static void CheckPayload(ReadOnlySpan<byte> payload)
        {
            if (!RendezvousCodec.TryDecode(payload, out RendezvousMessage message, out string error))
            {
                error.ShouldNotBeNullOrEmpty();
                return;
            }
            // What was accepted encodes, and decodes back to the same encoding.
            byte[] json = RendezvousCodec.EncodeJson(message);
            RendezvousCodec.TryDecode(json, out RendezvousMessage again, out _).ShouldBeTrue();
            RendezvousCodec.EncodeJson(again).ShouldBe(json);
        }
    }

    [Fact]
    public void TurnRequestHandling()
    {
        var environment = new FakeTurnEnvironment();
        var options = new TurnOptions { Realm = TurnTestClient.Realm, Users = new Dictionary<string, string> { ["alice"] = "wonderland" } };
        var core = new TurnCore(options, environment, random: new Random(3));
        var server = IPEndPoint.Parse("198.51.100.1:3478");
        // One client holds an allocation with a permission and a channel, so that requests and data reach every handler.
        var holder = new TurnTestClient(core, environment, TurnClient.Create(IPEndPoint.Parse("192.0.2.10:40000"), server, TurnClientTransport.Udp))
        {
            Username = "alice",
            Password = "wonderland",
        };
        holder.Allocate().IsSuccess.ShouldBeTrue();
        var peer = IPEndPoint.Parse("203.0.113.5:7000");
        holder.Parse(holder.Request(StunMethod.ChannelBind, TurnTestClient.Channel(0x4000, peer))).IsSuccess.ShouldBeTrue();
        byte[] key = holder.Key;
        List<byte[]> valid =
        [
            Signed(StunMethod.Allocate, StunClass.Request, holder.Nonce!, key, (ref StunMessageBuilder b) => b.AddUInt32(StunAttributeType.RequestedTransport, 17u << 24)),
            Signed(StunMethod.Refresh, StunClass.Request, holder.Nonce!, key, (ref StunMessageBuilder b) => b.AddUInt32(StunAttributeType.Lifetime, 600)),
            Signed(StunMethod.CreatePermission, StunClass.Request, holder.Nonce!, key, (ref StunMessageBuilder b) => b.AddXorAddress(StunAttributeType.XorPeerAddress, peer)),
            Signed(StunMethod.ChannelBind, StunClass.Request, holder.Nonce!, key, (ref StunMessageBuilder b) =>
            {
                b.AddUInt32(StunAttributeType.ChannelNumber, 0x4001u << 16);
                b.AddXorAddress(StunAttributeType.XorPeerAddress, peer);
            }),
            Signed(StunMethod.Send, StunClass.Indication, null, null, (ref StunMessageBuilder b) =>
            {
                b.AddXorAddress(StunAttributeType.XorPeerAddress, peer);
                b.AddBytes(StunAttributeType.Data, [1, 2, 3]);
            }),
            [0x40, 0x00, 0x00, 0x03, 9, 9, 9, 0],
        ];
        TurnClient[] senders =
        [
            holder.Client,
            TurnClient.Create(IPEndPoint.Parse("192.0.2.11:40000"), server, TurnClientTransport.Udp),
            TurnClient.Create(IPEndPoint.Parse("192.0.2.12:40000"), server, TurnClientTransport.Tcp),
        ];
        int turn = 0;
        DateTimeOffset now = holder.Now;

        output.WriteLine(FuzzRunner.Run("turn", 8656, valid, input =>
        {
            core.HandleFromClient(senders[turn++ % senders.Length], input, now);
            core.HandleFromPeer(environment.Relays[0], peer, input, now);
            environment.ToClients.Clear();
        }));
        core.AllocationCount.ShouldBeLessThanOrEqualTo(options.TotalQuota);
    }

    [Fact]
    public void TurnRestUsernamesAndNonces()
    {
        var authenticator = new TurnAuthenticator(TurnOptions.Default);
        string nonce = authenticator.NewNonce(IPAddress.Loopback, DateTimeOffset.UnixEpoch.AddYears(50));
        List<byte[]> valid = [.. new[] { "1700000000:alice", "1700000000", ":", "99999999999999999999:x", nonce }.Select(Encoding.UTF8.GetBytes)];

        output.WriteLine(FuzzRunner.Run("turn-credentials", 4011, valid, input =>
        {
            string text = Encoding.UTF8.GetString(input);
            if (TurnRestCredentials.TryGetExpiry(text, out DateTimeOffset expiry))
            {
                expiry.ShouldBeGreaterThan(DateTimeOffset.UnixEpoch.AddSeconds(-1));
            }
            TurnAuthenticator.TryReadNonceExpiry(text, out _);
        }, maxRandomLength: 80));
    }

    [Fact]
    public void CandidatesFromAnOffer()
    {
        List<byte[]> valid = [.. new[] { "192.0.2.1:5000", "[2001:db8::1]:6000", "[fe80::1%2]:7", "0.0.0.0:1", "host", "srflx", "relay", "prflx" }
            .Select(Encoding.UTF8.GetBytes)];
        string[] types = ["host", "srflx", "relay", "prflx", "HOST", "", "x"];
        var random = new Random(5245);

        output.WriteLine(FuzzRunner.Run("candidate", 5245, valid, input =>
        {
            string text = Encoding.UTF8.GetString(input);
            string other = random.Next(2) == 0 ? "192.0.2.9:9" : text;
            var info = new CandidateInfo(random.Next(3) == 0 ? text : types[random.Next(types.Length)], random.Next(4) == 0 ? other : text,
                (uint)random.NextInt64(0, uint.MaxValue + 1L), random.Next(2) == 0 ? text : "f", random.Next(3) == 0 ? text : null);
            if (Candidate.TryFromInfo(info, out Candidate candidate))
            {
                candidate.EndPoint.Port.ShouldNotBe(0);
            }
        }, maxRandomLength: 60));
    }

    [Fact]
    public void StreamSegments()
    {
        var random = new Random(9293);
        List<byte[]> valid = [];
        for (int i = 0; i < 40; i++)
        {
            var flags = (StreamSegmentFlags)random.Next(8);
            SackBlock[] sacks = (flags & StreamSegmentFlags.Sack) != 0
                ? [.. Enumerable.Range(0, random.Next(1, 5)).Select(_ => new SackBlock((uint)random.Next(), (uint)random.Next()))] : [];
            byte[] payload = RandomStunMessages.RandomBytes(random, random.Next(0, 64));
            var header = new StreamSegmentHeader((uint)random.Next(), flags, (uint)random.Next(), (uint)random.Next(), (uint)random.Next(), (uint)random.Next(), (uint)random.Next());
            byte[] buffer = new byte[StreamSegment.HeaderSize + sacks.Length * StreamSegment.SackBlockSize + payload.Length + 4];
            valid.Add(buffer[..StreamSegment.Write(buffer, header, sacks, payload)]);
        }

        output.WriteLine(FuzzRunner.Run("stream-segment", 9293, valid, input =>
        {
            if (StreamSegment.TryParse(input, out StreamSegment segment, out _))
            {
                StreamSegment.TryReadStreamId(input, out uint id).ShouldBeTrue();
                id.ShouldBe(segment.Header.StreamId);
                segment.SackBlockCount.ShouldBeLessThanOrEqualTo(StreamSegment.MaxSackBlocks);
                for (int i = 0; i < segment.SackBlockCount; i++)
                {
                    _ = segment.GetSackBlock(i);
                }
                segment.Payload.Length.ShouldBeLessThanOrEqualTo(input.Length - StreamSegment.HeaderSize);
            }
        }));
    }

    [Fact]
    public void SealedSessionFrames()
    {
        byte[] k1 = RandomNumberGenerator.GetBytes(32), k2 = RandomNumberGenerator.GetBytes(32);
        using PeerIdentity identity = PeerIdentity.Generate();
        using var sender = new SessionCrypto(k1.ToArray(), k2.ToArray(), identity.PublicKey, TimeSpan.Zero);
        using var receiver = new SessionCrypto(k2, k1, identity.PublicKey, TimeSpan.Zero);
        var sent = new HashSet<string>();
        List<byte[]> valid = [];
        var random = new Random(7983);
        for (int i = 0; i < 50; i++)
        {
            byte[] body = RandomStunMessages.RandomBytes(random, random.Next(0, 100));
            byte[] frame = new byte[body.Length + SealedFrame.Overhead];
            sender.Seal((SessionMessageType)random.Next(0, 8), body, frame, TimeSpan.Zero);
            valid.Add(frame);
            sent.Add(Convert.ToHexString(frame));
        }
        byte[] opened = new byte[2048];
        int opens = 0;

        output.WriteLine(FuzzRunner.Run("sealed-frame", 7983, valid, input =>
        {
            if (receiver.TryOpen(input, opened.AsSpan(0, Math.Max(0, input.Length)), out _, out _))
            {
                // Only a frame exactly as sealed opens, and only once (the valid ones come last, once each).
                sent.ShouldContain(Convert.ToHexString(input));
                opens++;
            }
        }));
        opens.ShouldBeLessThanOrEqualTo(valid.Count);
    }

    [Fact]
    public async Task SessionMessagesIntoTheStreamMux()
    {
        // A live pair of muxes: what the fuzzed one sends in answer reaches a real peer.
        var (hostA, hostB) = NatPunch.Tests.Session.MemoryMuxHost.CreatePair(seed: 11);
        await using var a = new NatPunch.Session.StreamMux(hostA, initiator: true, 16, ReliableStreamOptions.Default, TimeProvider.System);
        await using var b = new NatPunch.Session.StreamMux(hostB, initiator: false, 16, ReliableStreamOptions.Default, TimeProvider.System);
        hostA.Deliver(b);
        hostB.Deliver(a);
        var random = new Random(1212);
        List<byte[]> valid = [];
        for (int i = 0; i < 20; i++)
        {
            var header = new StreamSegmentHeader((uint)(i % 4 * 2 + 1), (StreamSegmentFlags)random.Next(4), (uint)random.Next(), 0, 65535, 0, 0);
            byte[] buffer = new byte[StreamSegment.HeaderSize + 16];
            valid.Add(buffer[..StreamSegment.Write(buffer, header, [], RandomStunMessages.RandomBytes(random, 16))]);
        }
        valid.Add(BitConverter.GetBytes(12UL)); // MaxStreams, StreamsBlocked, Ping bodies
        var types = Enum.GetValues<SessionMessageType>();

        output.WriteLine(FuzzRunner.Run("session-message", 1212, valid, input =>
        {
            SessionMessageType type = types[random.Next(types.Length)];
            if (type == SessionMessageType.Segment)
            {
                a.OnSegment(input);
            }
            else
            {
                a.OnMessage(type, input);
            }
        }, maxRandomLength: 200));
        await hostA.DisposeAsync();
        await hostB.DisposeAsync();
    }

    private static byte[] Signed(StunMethod method, StunClass kind, string? nonce, byte[]? key, TurnTestClient.Attributes attributes)
    {
        byte[] buffer = new byte[512];
        var builder = new StunMessageBuilder(buffer, new StunMessageType(method, kind), TransactionId.NewRandom());
        attributes(ref builder);
        if (nonce is not null && key is not null)
        {
            builder.AddString(StunAttributeType.Username, "alice");
            builder.AddString(StunAttributeType.Realm, TurnTestClient.Realm);
            builder.AddString(StunAttributeType.Nonce, nonce);
            builder.AddMessageIntegrity(key);
        }
        builder.AddFingerprint();
        return builder.Written.ToArray();
    }
}
