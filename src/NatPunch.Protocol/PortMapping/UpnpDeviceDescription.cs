using System.Xml.Linq;

namespace NatPunch.Protocol.PortMapping;

/// <summary>
/// Finds the service that maps ports in an Internet Gateway Device's description (the XML at
/// SSDP's LOCATION): WANIPConnection (v2 preferred, then v1) or WANPPPConnection:1, anywhere in the
/// device tree, with its control URL made absolute against URLBase or the description's own URL.
/// </summary>
public static class UpnpDeviceDescription
{
    public const string WanIpConnection1 = "urn:schemas-upnp-org:service:WANIPConnection:1";
    public const string WanIpConnection2 = "urn:schemas-upnp-org:service:WANIPConnection:2";
    public const string WanPppConnection1 = "urn:schemas-upnp-org:service:WANPPPConnection:1";

    private static readonly string[] Preference = [WanIpConnection2, WanIpConnection1, WanPppConnection1];

    /// <summary>False when the XML does not parse, has no such service, or its control URL is not http.</summary>
    public static bool TryFindPortMappingService(string xml, Uri descriptionUrl, out UpnpService service)
    {
        service = default;
        if (!UntrustedXml.TryLoad(xml, out XDocument document))
        {
            return false;
        }
        Uri baseUrl = descriptionUrl;
        string? urlBase = document.Descendants().FirstOrDefault(e => e.Name.LocalName == "URLBase")?.Value.Trim();
        if (!string.IsNullOrEmpty(urlBase) && Uri.TryCreate(urlBase, UriKind.Absolute, out Uri? parsedBase))
        {
            baseUrl = parsedBase;
        }
        var services = document.Descendants().Where(e => e.Name.LocalName == "service")
            .Select(e => (Type: Child(e, "serviceType"), Control: Child(e, "controlURL")))
            .Where(s => s.Type is not null && s.Control is not null)
            .ToList();
        foreach (string wanted in Preference)
        {
            foreach ((string? type, string? control) in services)
            {
                if (type == wanted && Uri.TryCreate(baseUrl, control, out Uri? controlUrl) && controlUrl.Scheme == Uri.UriSchemeHttp)
                {
                    service = new UpnpService(wanted, controlUrl);
                    return true;
                }
            }
        }
        return false;
    }

    private static string? Child(XElement element, string name) =>
        element.Elements().FirstOrDefault(c => c.Name.LocalName == name)?.Value.Trim();
}

/// <summary>A gateway's port-mapping service: its type (the SOAP namespace of its actions) and control URL.</summary>
public readonly record struct UpnpService(string ServiceType, Uri ControlUrl);
