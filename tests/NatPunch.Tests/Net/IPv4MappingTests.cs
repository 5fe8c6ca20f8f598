using System.Net;
using NatPunch.Protocol.Net;

namespace NatPunch.Tests.Net;

public sealed class IPv4MappingTests
{
    [Fact]
    public void MappedAddressesBecomePlainIPv4AndOthersStayAsTheyAre()
    {
        IPv4Mapping.Unmap(IPAddress.Parse("::ffff:198.51.100.7")).ShouldBe(IPAddress.Parse("198.51.100.7"));
        IPv4Mapping.Unmap(new IPEndPoint(IPAddress.Parse("::ffff:198.51.100.7"), 3478)).ShouldBe(new IPEndPoint(IPAddress.Parse("198.51.100.7"), 3478));

        var v6 = new IPEndPoint(IPAddress.Parse("2001:db8::1"), 3478);
        IPv4Mapping.Unmap(v6).ShouldBeSameAs(v6);
        var v4 = new IPEndPoint(IPAddress.Parse("198.51.100.7"), 3478);
        IPv4Mapping.Unmap(v4).ShouldBeSameAs(v4);
    }
}
