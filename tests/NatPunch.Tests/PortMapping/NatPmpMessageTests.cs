using System.Net;
using NatPunch.Protocol.PortMapping;
using Shouldly;
using Xunit;

namespace NatPunch.Tests.PortMapping;

/// <summary>Layouts from RFC 6886 §3.2–§3.5.</summary>
public sealed class NatPmpMessageTests
{
    [Fact]
    public void RequestsAreLaidOutAsTheRfcDraws()
    {
        NatPmpMessage.ExternalAddressRequest().ShouldBe(Hex.Parse("00 00"));
        // UDP, internal 5000, suggested 5000, 7200 s (the RFC's recommended lifetime).
        NatPmpMessage.MapRequest(udp: true, 5000, 5000, 7200).ShouldBe(Hex.Parse("00 01 0000 1388 1388 00001c20"));
        // Deleting: lifetime 0 and external port 0.
        NatPmpMessage.MapRequest(udp: false, 5000, 0, 0).ShouldBe(Hex.Parse("00 02 0000 1388 0000 00000000"));
    }

    [Fact]
    public void ParsesTheExternalAddressAnswer()
    {
        NatPmpMessage.TryParseResponse(Hex.Parse("00 80 0000 0000 0e10 cb007122"), NatPmpMessage.OpExternalAddress, out NatPmpResponse answer)
            .ShouldBeTrue();
        answer.Result.ShouldBe(NatPmpResult.Success);
        answer.Epoch.ShouldBe(3600u);
        answer.ExternalAddress.ShouldBe(IPAddress.Parse("203.0.113.34"));
    }

    [Fact]
    public void ParsesAMappingAnswer()
    {
        NatPmpMessage.TryParseResponse(Hex.Parse("00 81 0000 0000 0005 1388 d431 00001c20"), NatPmpMessage.OpMapUdp, out NatPmpResponse answer)
            .ShouldBeTrue();
        (answer.InternalPort, answer.ExternalPort, answer.LifetimeSeconds).ShouldBe(((ushort)5000, (ushort)54321, 7200u));
    }

    [Fact]
    public void AnErrorAnswerParsesEvenWhenItIsOnlyTheHeader()
    {
        NatPmpMessage.TryParseResponse(Hex.Parse("00 81 0002 0000 0005"), NatPmpMessage.OpMapUdp, out NatPmpResponse answer).ShouldBeTrue();
        answer.Result.ShouldBe(NatPmpResult.NotAuthorized);
    }

    [Theory]
    [InlineData("00 80 0000 0000 0e10 cb00")]           // success, address cut short
    [InlineData("00 81 0000 0000 0e10 cb007122")]       // answer to another opcode
    [InlineData("02 80 0000 0000 0e10 cb007122")]       // another version (PCP)
    [InlineData("00 00 0000 0000 0e10 cb007122")]       // a request, not an answer
    [InlineData("00")]
    public void WhatIsNotAnAnswerToTheRequestDoesNotParse(string hex)
    {
        NatPmpMessage.TryParseResponse(Hex.Parse(hex), NatPmpMessage.OpExternalAddress, out _).ShouldBeFalse();
    }
}
