// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQ_PROTOCOLRULES_H
#define SYNQ_PROTOCOLRULES_H

#include <synq/identifier.h>
#include <synq/protocol.h>

#include <QtCore/QStringView>

namespace Synq {
namespace Server {

/*
    The limits and the name rule of docs/protocol.md (Concepts, Limits) as the server enforces
    them: the same definitions the client uses, from Synq's core.
*/
using Protocol::MaxChangesPerPull;
using Protocol::MaxIdLength;
using Protocol::MaxKeyLength;
using Protocol::MaxMutationsPerPush;
constexpr int DefaultChangesPerPull = 500;

inline bool isIdentifier(QStringView name)
{
    return isValidIdentifier(name);
}

} // namespace Server
} // namespace Synq

#endif
