using System.Text.Json;
using NatPunch.Security;
using NatPunch.Security.Internal;
using NSec.Cryptography;

namespace NatPunch.Tests.Security;

/// <summary>
/// The published Noise test vectors (cacophony's vectors/cacophony.txt, the format snow reads too)
/// for the two protocols NatPunch speaks: every handshake message byte for byte, the handshake
/// hash, and the transport messages after Split.
/// </summary>
public sealed class NoiseVectorTests
{
    public static TheoryData<string> Protocols => new() { "Noise_XX_25519_ChaChaPoly_SHA256", "Noise_IK_25519_ChaChaPoly_SHA256" };

    [Theory]
    [MemberData(nameof(Protocols))]
    public void MessagesAndHandshakeHashMatchThePublishedVector(string protocol)
    {
        JsonElement vector = Load(protocol);
        NoisePattern pattern = protocol.Contains("_IK_") ? NoisePattern.IK : NoisePattern.XX;
        using PeerIdentity initiatorStatic = PeerIdentity.FromPrivateKey(Hex(vector, "init_static"));
        using PeerIdentity responderStatic = PeerIdentity.FromPrivateKey(Hex(vector, "resp_static"));
        PeerKey? known = vector.TryGetProperty("init_remote_static", out JsonElement remote)
            ? PeerKey.FromBytes(Convert.FromHexString(remote.GetString()!)) : null;
        if (known is not null)
        {
            known.ShouldBe(responderStatic.PublicKey);
        }
        using var initiator = new NoiseHandshakeState(pattern, initiator: true, Hex(vector, "init_prologue"), initiatorStatic.Key, known, Hex(vector, "init_ephemeral"));
        using var responder = new NoiseHandshakeState(pattern, initiator: false, Hex(vector, "resp_prologue"), responderStatic.Key, null, Hex(vector, "resp_ephemeral"));

        JsonElement[] messages = vector.GetProperty("messages").EnumerateArray().ToArray();
        int handshakeMessages = NoisePatterns.Messages(pattern).Length;
        ulong initiatorCounter = 0, responderCounter = 0;
        NoiseTransportCipher? initiatorSend = null, initiatorReceive = null, responderSend = null, responderReceive = null;
        for (int i = 0; i < messages.Length; i++)
        {
            byte[] payload = Convert.FromHexString(messages[i].GetProperty("payload").GetString()!);
            byte[] expected = Convert.FromHexString(messages[i].GetProperty("ciphertext").GetString()!);
            bool fromInitiator = i % 2 == 0;
            byte[] written = new byte[1024];
            byte[] read = new byte[1024];
            if (i < handshakeMessages)
            {
                (NoiseHandshakeState sender, NoiseHandshakeState receiver) = fromInitiator ? (initiator, responder) : (responder, initiator);
                int length = sender.WriteMessage(payload, written);
                written.AsSpan(0, length).ToArray().ShouldBe(expected, $"message {i}");
                receiver.ReadMessage(expected, read, out int payloadLength).ShouldBeTrue($"message {i}");
                read.AsSpan(0, payloadLength).ToArray().ShouldBe(payload);
                if (i == handshakeMessages - 1)
                {
                    initiator.HandshakeHash.ToArray().ShouldBe(Hex(vector, "handshake_hash"));
                    responder.HandshakeHash.ToArray().ShouldBe(Hex(vector, "handshake_hash"));
                    responder.RemoteStatic.ShouldBe(initiatorStatic.PublicKey);
                    initiator.RemoteStatic.ShouldBe(responderStatic.PublicKey);
                    (byte[] iSend, byte[] iReceive) = initiator.Split();
                    (byte[] rSend, byte[] rReceive) = responder.Split();
                    initiatorSend = new NoiseTransportCipher(iSend);
                    initiatorReceive = new NoiseTransportCipher(iReceive);
                    responderSend = new NoiseTransportCipher(rSend);
                    responderReceive = new NoiseTransportCipher(rReceive);
                }
            }
            else
            {
                // Transport messages: the raw Noise form (ad empty, the counter implicit), as the vectors have it.
                (NoiseTransportCipher send, NoiseTransportCipher receive) = fromInitiator ? (initiatorSend!, responderReceive!) : (responderSend!, initiatorReceive!);
                ulong counter = fromInitiator ? initiatorCounter++ : responderCounter++;
                int length = send.Seal(counter, [], payload, written);
                written.AsSpan(0, length).ToArray().ShouldBe(expected, $"message {i}");
                receive.TryOpen(counter, [], expected, read, out int payloadLength).ShouldBeTrue();
                read.AsSpan(0, payloadLength).ToArray().ShouldBe(payload);
            }
        }
        foreach (NoiseTransportCipher? cipher in new[] { initiatorSend, initiatorReceive, responderSend, responderReceive })
        {
            cipher!.Dispose();
        }
    }

    [Fact]
    public void AFlippedBitInAHandshakeMessageIsRefused()
    {
        using PeerIdentity a = PeerIdentity.Generate();
        using PeerIdentity b = PeerIdentity.Generate();
        using var initiator = new NoiseHandshakeState(NoisePattern.XX, true, "p"u8, a.Key);
        using var responder = new NoiseHandshakeState(NoisePattern.XX, false, "p"u8, b.Key);
        byte[] message = new byte[256];
        byte[] payload = new byte[256];
        int length = initiator.WriteMessage([], message);
        responder.ReadMessage(message.AsSpan(0, length), payload, out _).ShouldBeTrue();
        length = responder.WriteMessage([], message);
        message[40] ^= 1;
        initiator.ReadMessage(message.AsSpan(0, length), payload, out _).ShouldBeFalse();
        initiator.IsComplete.ShouldBeFalse();
    }

    [Fact]
    public void ADifferentPrologueBreaksTheHandshake()
    {
        using PeerIdentity a = PeerIdentity.Generate();
        using PeerIdentity b = PeerIdentity.Generate();
        using var initiator = new NoiseHandshakeState(NoisePattern.IK, true, "session 1"u8, a.Key, b.PublicKey);
        using var responder = new NoiseHandshakeState(NoisePattern.IK, false, "session 2"u8, b.Key);
        byte[] message = new byte[256];
        int length = initiator.WriteMessage([], message);
        responder.ReadMessage(message.AsSpan(0, length), new byte[256], out _).ShouldBeFalse();
    }

    [Fact]
    public void IkToTheWrongResponderKeyIsRefused()
    {
        using PeerIdentity a = PeerIdentity.Generate();
        using PeerIdentity b = PeerIdentity.Generate();
        using PeerIdentity impostor = PeerIdentity.Generate();
        using var initiator = new NoiseHandshakeState(NoisePattern.IK, true, "p"u8, a.Key, b.PublicKey);
        using var responder = new NoiseHandshakeState(NoisePattern.IK, false, "p"u8, impostor.Key);
        byte[] message = new byte[256];
        int length = initiator.WriteMessage([], message);
        responder.ReadMessage(message.AsSpan(0, length), new byte[256], out _).ShouldBeFalse();
    }

    private static JsonElement Load(string protocol)
    {
        using JsonDocument document = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Security", "Vectors", "cacophony-noise.json")));
        return document.RootElement.GetProperty("vectors").EnumerateArray().Single(v => v.GetProperty("protocol_name").GetString() == protocol).Clone();
    }

    private static byte[] Hex(JsonElement vector, string name) => Convert.FromHexString(vector.GetProperty(name).GetString()!);
}
