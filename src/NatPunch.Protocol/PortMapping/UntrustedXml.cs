using System.Xml;
using System.Xml.Linq;

namespace NatPunch.Protocol.PortMapping;

/// <summary>XML from whatever answered on the LAN: parsed with no DTD and no external entities.</summary>
internal static class UntrustedXml
{
    public static bool TryLoad(string xml, out XDocument document)
    {
        try
        {
            using var reader = XmlReader.Create(new StringReader(xml), new XmlReaderSettings { DtdProcessing = DtdProcessing.Prohibit, XmlResolver = null });
            document = XDocument.Load(reader);
            return true;
        }
        catch (XmlException)
        {
            document = null!;
            return false;
        }
    }
}
