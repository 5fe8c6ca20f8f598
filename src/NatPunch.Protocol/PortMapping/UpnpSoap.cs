using System.Security;
using System.Text;
using System.Xml.Linq;

namespace NatPunch.Protocol.PortMapping;

/// <summary>
/// The SOAP of UPnP control (UPnP Device Architecture 1.1 §3.2): an action's request envelope, and
/// its answer: the out-arguments, or a fault with a UPnPError code (718 ConflictInMappingEntry, 725
/// OnlyPermanentLeasesSupported, …). The HTTP around it is the caller's.
/// </summary>
public static class UpnpSoap
{
    /// <summary>The envelope and the SOAPACTION header value ("TYPE#ACTION", quoted) of a request.</summary>
    public static (string Body, string SoapAction) Request(string serviceType, string action, IEnumerable<(string Name, string Value)> arguments)
    {
        var body = new StringBuilder();
        body.Append("<?xml version=\"1.0\"?>\r\n")
            .Append("<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" s:encodingStyle=\"http://schemas.xmlsoap.org/soap/encoding/\">")
            .Append("<s:Body>")
            .Append("<u:").Append(action).Append(" xmlns:u=\"").Append(SecurityElement.Escape(serviceType)).Append("\">");
        foreach ((string name, string value) in arguments)
        {
            body.Append('<').Append(name).Append('>').Append(SecurityElement.Escape(value)).Append("</").Append(name).Append('>');
        }
        body.Append("</u:").Append(action).Append('>').Append("</s:Body></s:Envelope>\r\n");
        return (body.ToString(), $"\"{serviceType}#{action}\"");
    }

    /// <summary>
    /// Parses the answer to <paramref name="action"/>: the out-arguments by name (ActionResponse), or
    /// the fault's UPnP error. False when it is neither (not XML, another action).
    /// </summary>
    public static bool TryParseResponse(string xml, string action, out IReadOnlyDictionary<string, string> arguments, out UpnpError? error)
    {
        arguments = new Dictionary<string, string>();
        error = null;
        if (!UntrustedXml.TryLoad(xml, out XDocument document))
        {
            return false;
        }
        XElement? body = document.Root?.Elements().FirstOrDefault(e => e.Name.LocalName == "Body");
        if (body is null)
        {
            return false;
        }
        XElement? answer = body.Elements().FirstOrDefault(e => e.Name.LocalName == action + "Response");
        if (answer is not null)
        {
            arguments = answer.Elements().GroupBy(e => e.Name.LocalName).ToDictionary(g => g.Key, g => g.First().Value.Trim());
            return true;
        }
        XElement? fault = body.Elements().FirstOrDefault(e => e.Name.LocalName == "Fault");
        XElement? upnpError = fault?.Descendants().FirstOrDefault(e => e.Name.LocalName == "UPnPError");
        if (fault is null)
        {
            return false;
        }
        string? code = upnpError?.Elements().FirstOrDefault(e => e.Name.LocalName == "errorCode")?.Value.Trim();
        string description = upnpError?.Elements().FirstOrDefault(e => e.Name.LocalName == "errorDescription")?.Value.Trim()
            ?? fault.Elements().FirstOrDefault(e => e.Name.LocalName == "faultstring")?.Value.Trim() ?? "";
        error = new UpnpError(int.TryParse(code, out int number) ? number : 0, description);
        return true;
    }
}

/// <summary>A UPnP control error: its code (0 when the fault had none) and description.</summary>
public sealed record UpnpError(int Code, string Description)
{
    public const int InvalidAction = 401;
    public const int ConflictInMappingEntry = 718;
    public const int OnlyPermanentLeasesSupported = 725;

    public override string ToString() => Code == 0 ? Description : $"{Code} {Description}";
}
