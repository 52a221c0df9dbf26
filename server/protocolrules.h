// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQ_PROTOCOLRULES_H
#define SYNQ_PROTOCOLRULES_H

#include <QtCore/QLatin1String>
#include <QtCore/QStringView>

namespace Synq {
namespace Server {

/*
    The limits and the name rule of docs/protocol.md (Concepts, Limits), as the server
    enforces them. The server is written from that page alone, like any other backend, and
    does not link the client library: the same rule lives in src/core/identifier.cpp and
    src/core/protocol.h for the client side.
*/
constexpr int MaxMutationsPerPush = 500;
constexpr int MaxChangesPerPull = 1000;
constexpr int DefaultChangesPerPull = 500;
constexpr int MaxKeyLength = 512;
constexpr int MaxIdLength = 128;

// [A-Za-z_][A-Za-z0-9_]{0,63}, not starting with "sqlite_" (in any case).
inline bool isIdentifier(QStringView name)
{
    if (name.isEmpty() || name.size() > 64)
        return false;
    if (name.startsWith(QLatin1String("sqlite_"), Qt::CaseInsensitive))
        return false;
    for (qsizetype i = 0; i < name.size(); ++i) {
        const char16_t c = name.at(i).unicode();
        const bool letter = (c >= u'a' && c <= u'z') || (c >= u'A' && c <= u'Z') || c == u'_';
        const bool digit = c >= u'0' && c <= u'9';
        if (!(letter || (digit && i > 0)))
            return false;
    }
    return true;
}

} // namespace Server
} // namespace Synq

#endif
