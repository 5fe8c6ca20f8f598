using System.Net;
using NatPunch.Protocol.PortMapping;
using Shouldly;
using Xunit;

namespace NatPunch.Tests.PortMapping;

/// <summary>Layouts from RFC 6887 §7.1, §7.2, §11.1 and §14.1.</summary>
public sealed class PcpMessageTests
{
    private static readonly byte[] Nonce = Hex.Parse("0102030405060708090a0b0c");

    [Fact]
    public void AnnounceIsAHeaderWithLifetimeZeroAndTheClientAddressMapped()
    {
        PcpMessage.AnnounceRequest(IPAddress.Parse("10.7.0.2")).ShouldBe(Hex.Parse(
            "02 00 0000 00000000 00000000000000000000ffff0a070002"));
    }

    [Fact]
    public void MapCarriesNonceProtocolPortsAndSuggestedAddress()
    {
        byte[] request = PcpMessage.MapRequest(Nonce, PcpMessage.ProtocolUdp, IPAddress.Parse("10.7.0.2"), 5000, 5000, null, 7200);
        request.ShouldBe(Hex.Parse(
            "02 01 0000 00001c20 00000000000000000000ffff0a070002"
            + "0102030405060708090a0b0c 11 000000 1388 1388 00000000000000000000ffff00000000"));
        request.Length.ShouldBe(60);
    }

    [Fact]
    public void ParsesAMapAnswer()
    {
        byte[] datagram = Hex.Parse(
            "02 81 00 00 00001c20 0000002a 000000000000000000000000"
            + "0102030405060708090a0b0c 11 000000 1388 d431 00000000000000000000ffffcb007122");
        PcpMessage.TryParseResponse(datagram, PcpMessage.OpMap, out PcpResponse answer).ShouldBeTrue();
        answer.Version.ShouldBe((byte)2);
        answer.Result.ShouldBe(PcpResult.Success);
        answer.LifetimeSeconds.ShouldBe(7200u);
        answer.Epoch.ShouldBe(42u);
        answer.Nonce.ShouldBe(Nonce);
        (answer.InternalPort, answer.ExternalPort).ShouldBe(((ushort)5000, (ushort)54321));
        answer.ExternalAddress.ShouldBe(IPAddress.Parse("203.0.113.34"));
    }

    [Fact]
    public void AnErrorAnswerToMapMayComeWithoutTheOpcodeData()
    {
        PcpMessage.TryParseResponse(Hex.Parse("02 81 00 02 00000000 0000002a 000000000000000000000000"), PcpMessage.OpMap, out PcpResponse answer)
            .ShouldBeTrue();
        answer.Result.ShouldBe(PcpResult.NotAuthorized);
        answer.ExternalAddress.ShouldBeNull();
    }

    [Fact]
    public void ANatPmpOnlyGatewaysUnsupportedVersionIsRecognised()
    {
        PcpMessage.TryParseResponse(Hex.Parse("00 80 0001 00000e10"), PcpMessage.OpAnnounce, out PcpResponse answer).ShouldBeTrue();
        answer.Version.ShouldBe((byte)0);
        answer.Result.ShouldBe(PcpResult.UnsupportedVersion);
    }

    [Theory]
    [InlineData("02 81 00 00 00001c20 0000002a 000000000000000000000000")]   // success to MAP without the opcode data
    [InlineData("02 80 00 00 00000000 0000002a 000000000000000000000000")]   // an answer to ANNOUNCE
    [InlineData("02 01 00 00 00001c20 0000002a 000000000000000000000000")]   // a request
    [InlineData("02 81 00 00 00001c20")]
    public void WhatIsNotAnAnswerToMapDoesNotParse(string hex)
    {
        PcpMessage.TryParseResponse(Hex.Parse(hex), PcpMessage.OpMap, out _).ShouldBeFalse();
    }

    [Fact]
    public void ANonceOfTheWrongSizeIsRefused()
    {
        Should.Throw<ArgumentException>(() => PcpMessage.MapRequest(new byte[8], PcpMessage.ProtocolUdp, IPAddress.Loopback, 1, 1, null, 1));
    }
}
