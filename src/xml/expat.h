/* expat, loaded with dlopen on the first lambda.xml.decode (see common/dynload.h): only the
 * answers of AWS STS are XML, and a local invoke never reads one. expat stays a shared library
 * rather than being linked in statically, so that Debian's security updates of this parser of
 * network input reach the program.
 *
 * expat.h still gives the types and constants; only the calls go through the table, whose
 * fields have the names and (through __typeof__) the exact types of expat's functions. */
#ifndef CLC_XML_EXPAT_H
#define CLC_XML_EXPAT_H

#define XML_DTD /* expat.h declares the billion-laughs settings only under this */
#include <expat.h>

#define EXPAT_FUNCTIONS(X)                                                                         \
    X(XML_ParserCreateNS)                                                                          \
    X(XML_ParserFree)                                                                              \
    X(XML_SetUserData)                                                                             \
    X(XML_SetElementHandler)                                                                       \
    X(XML_SetCharacterDataHandler)                                                                 \
    X(XML_SetEntityDeclHandler)                                                                    \
    X(XML_SetSkippedEntityHandler)                                                                 \
    X(XML_SetParamEntityParsing)                                                                   \
    X(XML_SetBillionLaughsAttackProtectionMaximumAmplification)                                    \
    X(XML_SetBillionLaughsAttackProtectionActivationThreshold)                                     \
    X(XML_Parse)                                                                                   \
    X(XML_StopParser)                                                                              \
    X(XML_GetCurrentLineNumber)                                                                    \
    X(XML_GetCurrentColumnNumber)                                                                  \
    X(XML_GetErrorCode)                                                                            \
    X(XML_ErrorString)

#define EXPAT_FIELD(name) __typeof__(name) *name;

struct expat_api {
    EXPAT_FUNCTIONS(EXPAT_FIELD)
};

/* The table, expat being loaded on the first call; NULL with *error set ("cannot load
 * libexpat: ...") when it cannot be. */
const struct expat_api *expat_api(const char **error);

#endif
