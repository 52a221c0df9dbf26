// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQ_PUSHREQUEST_H
#define SYNQ_PUSHREQUEST_H

#include <QtCore/QByteArray>
#include <QtCore/QJsonObject>
#include <QtCore/QList>
#include <QtCore/QString>

#include <optional>

namespace Synq {
namespace Server {

struct PushMutation
{
    enum Op { Insert, Update, Remove };
    QString id;
    QString tx;
    QString collection;
    Op op = Insert;
    QString key;
    std::optional<qint64> baseVersion; // nullopt: no conflict check
    QJsonObject data; // insert: the whole record; update: the changes
};

struct PushRequest
{
    QString client;
    QString batch;
    QList<PushMutation> mutations;
};

struct DecodeFailure
{
    int status = 400; // 400 validation, 413 too many mutations
    QString message; // "mutations[2].collection: not an identifier"
};

/*
    Decodes and validates a push body completely before anything is written: any defect
    refuses the whole request, so a bad request never leaves a partial write. Unknown fields are
    ignored (a newer client may send more).
*/
bool decodePushRequest(const QByteArray &body, PushRequest *request, DecodeFailure *failure);

} // namespace Server
} // namespace Synq

#endif
