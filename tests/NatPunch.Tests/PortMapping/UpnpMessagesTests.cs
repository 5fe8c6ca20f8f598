using System.Text;
using NatPunch.Protocol.PortMapping;
using Shouldly;
using Xunit;

namespace NatPunch.Tests.PortMapping;

public sealed class UpnpMessagesTests
{
    [Fact]
    public void SearchAsksForAnInternetGatewayDevice()
    {
        string search = Encoding.ASCII.GetString(SsdpMessage.SearchRequest());
        search.ShouldStartWith("M-SEARCH * HTTP/1.1\r\n");
        search.ShouldContain("HOST: 239.255.255.250:1900\r\n");
        search.ShouldContain("MAN: \"ssdp:discover\"\r\n");
        search.ShouldContain("ST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n");
        search.ShouldEndWith("\r\n\r\n");
    }

    [Fact]
    public void ASearchAnswerGivesTheLocationWhateverTheHeaderCase()
    {
        byte[] answer = Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=120\r\nst: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n"
            + "Location: http://10.7.0.1:5000/rootDesc.xml\r\nSERVER: Debian/12 UPnP/1.1 MiniUPnPd/2.3.1\r\n\r\n");
        SsdpMessage.TryParseResponse(answer, out Uri location, out string target).ShouldBeTrue();
        location.ShouldBe(new Uri("http://10.7.0.1:5000/rootDesc.xml"));
        target.ShouldBe(SsdpMessage.InternetGatewayDevice);
    }

    [Theory]
    [InlineData("NOTIFY * HTTP/1.1\r\nLOCATION: http://10.7.0.1:5000/rootDesc.xml\r\n\r\n")]
    [InlineData("HTTP/1.1 404 Not Found\r\nLOCATION: http://10.7.0.1:5000/rootDesc.xml\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nLOCATION: file:///etc/passwd\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\n\r\n")]
    [InlineData("")]
    public void OtherSsdpTrafficIsNotAnAnswer(string text)
    {
        SsdpMessage.TryParseResponse(Encoding.ASCII.GetBytes(text), out _, out _).ShouldBeFalse();
    }

    private const string Description = """
        <?xml version="1.0"?>
        <root xmlns="urn:schemas-upnp-org:device-1-0">
          <device>
            <deviceType>urn:schemas-upnp-org:device:InternetGatewayDevice:1</deviceType>
            <serviceList><service><serviceType>urn:schemas-upnp-org:service:Layer3Forwarding:1</serviceType><controlURL>/ctl/L3F</controlURL></service></serviceList>
            <deviceList><device><deviceType>urn:schemas-upnp-org:device:WANDevice:1</deviceType>
              <deviceList><device><deviceType>urn:schemas-upnp-org:device:WANConnectionDevice:1</deviceType>
                <serviceList>
                  <service><serviceType>urn:schemas-upnp-org:service:WANPPPConnection:1</serviceType><controlURL>/ctl/PPP</controlURL></service>
                  <service><serviceType>urn:schemas-upnp-org:service:WANIPConnection:1</serviceType><controlURL>/ctl/IPConn</controlURL></service>
                </serviceList>
              </device></deviceList>
            </device></deviceList>
          </device>
        </root>
        """;

    [Fact]
    public void TheDescriptionGivesWanIpConnectionBeforePppWithAnAbsoluteControlUrl()
    {
        UpnpDeviceDescription.TryFindPortMappingService(Description, new Uri("http://10.7.0.1:5000/rootDesc.xml"), out UpnpService service).ShouldBeTrue();
        service.ServiceType.ShouldBe(UpnpDeviceDescription.WanIpConnection1);
        service.ControlUrl.ShouldBe(new Uri("http://10.7.0.1:5000/ctl/IPConn"));
    }

    [Fact]
    public void UrlBaseWinsOverTheDescriptionsOwnUrl()
    {
        string xml = Description.Replace("<device>", "<URLBase>http://10.7.0.1:6000/</URLBase><device>", StringComparison.Ordinal);
        UpnpDeviceDescription.TryFindPortMappingService(xml, new Uri("http://10.7.0.1:5000/rootDesc.xml"), out UpnpService service).ShouldBeTrue();
        service.ControlUrl.ShouldBe(new Uri("http://10.7.0.1:6000/ctl/IPConn"));
    }

    [Theory]
    [InlineData("<root><device><serviceList/></device></root>")]
    [InlineData("not xml")]
    [InlineData("<!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><root>&x;</root>")]
    public void ADescriptionWithoutTheServiceOrNotXmlFindsNothing(string xml)
    {
        UpnpDeviceDescription.TryFindPortMappingService(xml, new Uri("http://10.7.0.1/"), out _).ShouldBeFalse();
    }

    [Fact]
    public void TheSoapRequestEscapesArgumentsAndNamesTheAction()
    {
        (string body, string soapAction) = UpnpSoap.Request(UpnpDeviceDescription.WanIpConnection1, "AddPortMapping",
            [("NewExternalPort", "5000"), ("NewPortMappingDescription", "a<b&c")]);
        soapAction.ShouldBe("\"urn:schemas-upnp-org:service:WANIPConnection:1#AddPortMapping\"");
        body.ShouldContain("<u:AddPortMapping xmlns:u=\"urn:schemas-upnp-org:service:WANIPConnection:1\">");
        body.ShouldContain("<NewExternalPort>5000</NewExternalPort>");
        body.ShouldContain("<NewPortMappingDescription>a&lt;b&amp;c</NewPortMappingDescription>");
    }

    [Fact]
    public void TheSoapAnswerGivesOutArguments()
    {
        const string answer = """
            <?xml version="1.0"?>
            <s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body>
            <u:GetExternalIPAddressResponse xmlns:u="urn:schemas-upnp-org:service:WANIPConnection:1"><NewExternalIPAddress>203.0.113.34</NewExternalIPAddress></u:GetExternalIPAddressResponse>
            </s:Body></s:Envelope>
            """;
        UpnpSoap.TryParseResponse(answer, "GetExternalIPAddress", out IReadOnlyDictionary<string, string> result, out UpnpError? error).ShouldBeTrue();
        error.ShouldBeNull();
        result["NewExternalIPAddress"].ShouldBe("203.0.113.34");
    }

    [Fact]
    public void ASoapFaultGivesTheUpnpError()
    {
        const string fault = """
            <?xml version="1.0"?>
            <s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault><faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring>
            <detail><UPnPError xmlns="urn:schemas-upnp-org:control-1-0"><errorCode>718</errorCode><errorDescription>ConflictInMappingEntry</errorDescription></UPnPError></detail>
            </s:Fault></s:Body></s:Envelope>
            """;
        UpnpSoap.TryParseResponse(fault, "AddPortMapping", out _, out UpnpError? error).ShouldBeTrue();
        error.ShouldBe(new UpnpError(UpnpError.ConflictInMappingEntry, "ConflictInMappingEntry"));
    }

    [Theory]
    [InlineData("")]
    [InlineData("<html>busy</html>")]
    public void AnAnswerThatIsNotSoapDoesNotParse(string text)
    {
        UpnpSoap.TryParseResponse(text, "AddPortMapping", out _, out _).ShouldBeFalse();
    }
}
