// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQ_PUSHREQUEST_H
#define SYNQ_PUSHREQUEST_H

#include <synq/protocol.h>

#include <QtCore/QByteArray>
#include <QtCore/QString>

namespace Synq {
namespace Server {

// A push as the client sends it: the protocol's values, shared with the client's codec.
using PushMutation = Protocol::PushMutation;
using PushRequest = Protocol::PushRequest;

struct DecodeFailure
{
    int status = 400; // 400 validation, 413 too many mutations
    QString message; // "mutations[2].collection: not an identifier"
};

/*
    Decodes and validates a push body completely before anything is written: any defect
    refuses the whole request, so a bad request never leaves a partial write. Unknown fields are
    ignored (a newer client may send more). What JSON can get wrong (missing fields, wrong
    types) is checked here; what a value must be is PushRules' (shared with TestBackend).
*/
bool decodePushRequest(const QByteArray &body, PushRequest *request, DecodeFailure *failure);

} // namespace Server
} // namespace Synq

#endif
