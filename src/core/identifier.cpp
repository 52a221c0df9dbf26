// SPDX-License-Identifier: BSD-3-Clause
#include <synq/identifier.h>

#include <QtCore/QString>

namespace Synq {

bool isValidIdentifier(QStringView name)
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

QString itemId(const QString &collection, const QString &key)
{
    // One allocation, not two: ids are made for every item a local write or a push touches.
    QString id;
    id.reserve(collection.size() + 1 + key.size());
    id += collection;
    id += QLatin1Char('/');
    id += key;
    return id;
}

} // namespace Synq
