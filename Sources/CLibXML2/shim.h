// libxml2's SAX2 push parser, for S3's XML answers.
#ifndef DR_AUDIT_LIBXML2_SHIM_H
#define DR_AUDIT_LIBXML2_SHIM_H
#include <libxml/xmlversion.h>
// Debian builds libxml2 with ICU, so its encoding header pulls in ICU's headers, which clash with the ICU copy
// Foundation carries as a module. dr-audit never touches libxml2's encoding handlers (the only place ICU shows up,
// as trailing fields of a struct it only sees by pointer), so their ICU part is left out of this view.
#undef LIBXML_ICU_ENABLED
#include <libxml/parser.h>
#include <libxml/xmlerror.h>
#endif
